/** State the whole service shares (a leaf module: app.ts and the routes both read it). */
export interface AppState {
  shuttingDown: boolean;
}

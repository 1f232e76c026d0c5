/** The gate's load client: its public face (client.ts composes schedule, counters, connection and pool). */
export {
  createLoadClient,
  runLoad,
  type LoadClient,
  type LoadEdges,
  type LoadResult,
  type ScheduleOptions,
} from './client.js';
export type { LoadRequest } from './request.js';

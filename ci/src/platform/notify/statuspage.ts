/**
 * Atlassian Statuspage's REST API (v1), the three calls the pipeline makes: open a maintenance on one
 * component (in progress now, component "under maintenance"), complete it (component "operational"), and open
 * an incident on one component. Auth: `Authorization: OAuth <key>`. Thin I/O.
 */
import type { Announcement } from './announcement.js';
import { statusPageText } from './announcement.js';
import { callJson, type RetryPolicy } from './http.js';

export const STATUSPAGE_API = 'https://api.statuspage.io/v1';

export interface StatusPageConfig {
  readonly apiKey: string;
  readonly pageId: string;
  readonly baseUrl?: string;
  readonly fetch?: typeof fetch;
  readonly retry?: RetryPolicy;
  readonly onRetry?: (message: string) => void;
  readonly now?: () => number;
}

/** How long a maintenance is announced for; it is closed when the deploy ends, usually much sooner. */
const MAINTENANCE_MINUTES = 30;

export interface StatusPage {
  openMaintenance(componentId: string, a: Announcement): Promise<string>;
  closeMaintenance(incidentId: string, componentId: string, a: Announcement): Promise<void>;
  openIncident(componentId: string, a: Announcement): Promise<string>;
}

export function statusPage(c: StatusPageConfig): StatusPage {
  const base = `${(c.baseUrl ?? STATUSPAGE_API).replace(/\/$/, '')}/pages/${encodeURIComponent(c.pageId)}/incidents`;
  const headers = { authorization: `OAuth ${c.apiKey}` };
  const now = c.now ?? Date.now;
  const call = (method: 'POST' | 'PATCH', url: string, incident: object) =>
    callJson(
      { method, url, headers, body: { incident } },
      { ...(c.fetch ? { fetch: c.fetch } : {}), ...(c.retry ? { retry: c.retry } : {}), onRetry: c.onRetry },
    );
  const idOf = (answer: unknown) => {
    const id = (answer as { id?: unknown }).id;
    if (typeof id !== 'string') throw new Error('Statuspage answered without an incident id');
    return id;
  };
  return {
    async openMaintenance(componentId, a) {
      const t = statusPageText(a);
      const start = now();
      return idOf(
        await call('POST', base, {
          name: t.name,
          status: 'in_progress',
          body: t.body,
          scheduled_for: new Date(start).toISOString(),
          scheduled_until: new Date(start + MAINTENANCE_MINUTES * 60_000).toISOString(),
          component_ids: [componentId],
          components: { [componentId]: 'under_maintenance' },
          deliver_notifications: false,
        }),
      );
    },
    async closeMaintenance(incidentId, componentId, a) {
      await call('PATCH', `${base}/${encodeURIComponent(incidentId)}`, {
        status: 'completed',
        body:
          a.stage === 'succeeded'
            ? `${a.version} is live.`
            : `The rollout of ${a.version} did not complete; the previous release keeps serving.`,
        component_ids: [componentId],
        components: { [componentId]: 'operational' },
      });
    },
    async openIncident(componentId, a) {
      const t = statusPageText(a);
      return idOf(
        await call('POST', base, {
          name: t.name,
          status: 'investigating',
          impact_override: 'minor',
          body: t.body,
          component_ids: [componentId],
          components: { [componentId]: 'degraded_performance' },
        }),
      );
    },
  };
}

/**
 * The release train, pure: which calendar days a lane (staging's weekly cut, prod's fortnightly release)
 * runs on, in the train's time zone, with freezes and holidays. A slot that falls on a holiday or a weekend
 * moves to the next working day; a slot whose day falls in a freeze is skipped (the train waits for the next
 * slot). Whether there is anything to ship is the caller's fact: an empty train cuts nothing.
 */
import type { ReleaseTrain, TrainLane } from '../../definitions/environments.js';

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
const DAY_MS = 86_400_000;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Why `date` is not a YYYY-MM-DD calendar date, or undefined when it is one. */
export function calendarDateProblem(date: string): string | undefined {
  if (!ISO_DATE.test(date)) return `"${date}" is not a date (YYYY-MM-DD)`;
  const ms = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== date) return `"${date}" is not a calendar date`;
  return undefined;
}

/** Day number (days since 1970-01-01) of a YYYY-MM-DD calendar date. */
function dayOf(date: string, what: string): number {
  const problem = calendarDateProblem(date);
  if (problem) throw new RangeError(`${what}: ${problem}`);
  return Date.parse(`${date}T00:00:00Z`) / DAY_MS;
}
const dateOf = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
const weekdayOf = (day: number) => WEEKDAYS[(((day + 4) % 7) + 7) % 7]!; // 1970-01-01 was a Thursday

/** The calendar date of an instant in the train's time zone (an unknown zone is a clear error). */
export function localDate(instant: Date, timeZone: string): string {
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  } catch {
    throw new RangeError(`release train: unknown time zone "${timeZone}"`);
  }
  return fmt.format(instant);
}

/** Every problem with a train definition; empty = valid. */
export function trainProblems(t: ReleaseTrain): string[] {
  const problems: string[] = [];
  const check = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      problems.push((err as Error).message);
    }
  };
  check(() => localDate(new Date(0), t.timeZone));
  for (const [name, lane] of Object.entries(t.lanes) as [string, TrainLane][]) {
    if (!WEEKDAYS.includes(lane.weekday)) problems.push(`lane ${name}: "${lane.weekday}" is not a weekday`);
    if (!(Number.isInteger(lane.everyWeeks) && lane.everyWeeks >= 1))
      problems.push(`lane ${name}: everyWeeks must be a whole number >= 1, got ${lane.everyWeeks}`);
    check(() => {
      if (weekdayOf(dayOf(lane.anchor, `lane ${name} anchor`)) !== lane.weekday)
        throw new RangeError(`lane ${name}: anchor ${lane.anchor} is not a ${lane.weekday}`);
    });
  }
  for (const f of t.freezes)
    check(() => {
      if (dayOf(f.from, `freeze "${f.reason}" from`) > dayOf(f.to, `freeze "${f.reason}" to`))
        throw new RangeError(`freeze "${f.reason}": from ${f.from} is after to ${f.to}`);
    });
  for (const h of t.holidays) check(() => dayOf(h.date, `holiday "${h.name}"`));
  return problems;
}

function checked(t: ReleaseTrain): void {
  const problems = trainProblems(t);
  if (problems.length) throw new RangeError(`release train is malformed: ${problems.join('; ')}`);
}

const holidayOn = (t: ReleaseTrain, day: number) => t.holidays.find((h) => dayOf(h.date, 'holiday') === day);
const freezeOn = (t: ReleaseTrain, day: number) =>
  t.freezes.find((f) => dayOf(f.from, 'freeze') <= day && day <= dayOf(f.to, 'freeze'));
const working = (t: ReleaseTrain, day: number) =>
  !['saturday', 'sunday'].includes(weekdayOf(day)) && !holidayOn(t, day);

export interface TrainDay {
  readonly lane: string;
  readonly date: string;
  /** The train leaves on this date. */
  readonly runs: boolean;
  /** The regular slot this date stands for, when it differs (moved by a holiday). */
  readonly slot?: string;
  readonly reason: string;
}

/** Whether a regular slot of the lane falls on `day` (weekday and fortnight parity from the anchor). */
function isSlot(lane: TrainLane, day: number): boolean {
  const diff = day - dayOf(lane.anchor, 'anchor');
  return diff % (7 * lane.everyWeeks) === 0;
}

/** The one decision the scheduled workflows ask: does `lane` run on the calendar date `date`? */
export function trainDecision(t: ReleaseTrain, laneName: string, date: string): TrainDay {
  checked(t);
  const lane = t.lanes[laneName];
  if (!lane)
    throw new RangeError(`release train has no lane "${laneName}": expected ${Object.keys(t.lanes).join(', ')}`);
  const day = dayOf(date, 'date');
  // The slot this date serves: itself, or an earlier slot moved here past holidays and weekends (<= 7 days).
  for (let back = 0; back <= 7; back++) {
    const slot = day - back;
    if (!isSlot(lane, slot)) continue;
    let effective = slot;
    while (!working(t, effective)) effective++;
    if (effective !== day) continue;
    const moved = back > 0 ? { slot: dateOf(slot) } : {};
    const why = back > 0 ? ` (moved from ${dateOf(slot)}: ${holidayOn(t, slot)?.name ?? weekdayOf(slot)})` : '';
    const freeze = freezeOn(t, day);
    if (freeze)
      return {
        lane: laneName,
        date,
        runs: false,
        ...moved,
        reason: `${laneName} train skipped: freeze "${freeze.reason}"${why}`,
      };
    return { lane: laneName, date, runs: true, ...moved, reason: `${laneName} train day${why}` };
  }
  const holiday = holidayOn(t, day);
  if (isSlot(lane, day) && holiday)
    return { lane: laneName, date, runs: false, reason: `${laneName} train moved: ${date} is ${holiday.name}` };
  return { lane: laneName, date, runs: false, reason: `no ${laneName} train on ${date} (${weekdayOf(day)})` };
}

/** The next `count` dates (from `from`, inclusive) the lane runs on; skipped slots are listed with why. */
export function upcomingTrains(t: ReleaseTrain, laneName: string, from: string, count: number): TrainDay[] {
  checked(t);
  const out: TrainDay[] = [];
  const start = dayOf(from, 'from');
  for (let day = start; out.filter((d) => d.runs).length < count && day < start + 400; day++) {
    const d = trainDecision(t, laneName, dateOf(day));
    if (d.runs || /skipped/.test(d.reason)) out.push(d);
  }
  return out;
}

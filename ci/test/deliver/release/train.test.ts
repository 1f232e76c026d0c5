import { describe, expect, it } from 'vitest';
import { RELEASE_TRAIN, type ReleaseTrain } from '../../../src/definitions/environments.js';
import { localDate, trainDecision, trainProblems, upcomingTrains } from '../../../src/deliver/release/train.js';
import { runCli } from '../../../src/cli/program.js';
import { captureIo } from '../../cli/io.js';

async function runCliCaptured(argv: string[]) {
  const io = captureIo();
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

const T: ReleaseTrain = {
  timeZone: 'Europe/Berlin',
  lanes: {
    staging: { weekday: 'wednesday', everyWeeks: 1, anchor: '2026-01-07', action: 'cut', ships: 'develop' },
    prod: { weekday: 'friday', everyWeeks: 2, anchor: '2026-01-09', action: 'release', ships: 'release-branch' },
  },
  freezes: [{ from: '2026-12-18', to: '2027-01-06', reason: 'year-end freeze' }],
  holidays: [
    { date: '2026-06-03', name: 'a Wednesday holiday' },
    { date: '2026-05-29', name: 'a Friday holiday' },
    { date: '2026-06-01', name: 'a Monday holiday' },
  ],
};

describe('release train', () => {
  it('the committed train is valid', () => {
    expect(trainProblems(RELEASE_TRAIN)).toEqual([]);
  });

  it('staging runs every Wednesday, prod every other Friday counted from the anchor', () => {
    expect(trainDecision(T, 'staging', '2026-05-27')).toMatchObject({ runs: true });
    expect(trainDecision(T, 'staging', '2026-05-28')).toMatchObject({
      runs: false,
      reason: 'no staging train on 2026-05-28 (thursday)',
    });
    expect(trainDecision(T, 'prod', '2026-01-23')).toMatchObject({ runs: true });
    expect(trainDecision(T, 'prod', '2026-01-16')).toMatchObject({ runs: false });
    expect(upcomingTrains(T, 'prod', '2026-01-01', 3).map((d) => d.date)).toEqual([
      '2026-01-09',
      '2026-01-23',
      '2026-02-06',
    ]);
  });

  it('a holiday moves the train to the next working day (past weekends and further holidays)', () => {
    expect(trainDecision(T, 'staging', '2026-06-03')).toMatchObject({
      runs: false,
      reason: 'staging train moved: 2026-06-03 is a Wednesday holiday',
    });
    expect(trainDecision(T, 'staging', '2026-06-04')).toMatchObject({ runs: true, slot: '2026-06-03' });
    // 2026-05-29 is a prod Friday (anchor + 10 fortnights): holiday, weekend, holiday Monday → Tuesday.
    expect(trainDecision(T, 'prod', '2026-05-29').runs).toBe(false);
    expect(trainDecision(T, 'prod', '2026-06-01').runs).toBe(false);
    expect(trainDecision(T, 'prod', '2026-06-02')).toMatchObject({ runs: true, slot: '2026-05-29' });
  });

  it('a freeze skips the slot; the next train after it runs as usual', () => {
    expect(trainDecision(T, 'staging', '2026-12-23')).toMatchObject({
      runs: false,
      reason: 'staging train skipped: freeze "year-end freeze"',
    });
    const next = upcomingTrains(T, 'staging', '2026-12-16', 2);
    expect(next.map((d) => `${d.date} ${d.runs}`)).toEqual([
      '2026-12-16 true',
      '2026-12-23 false',
      '2026-12-30 false',
      '2027-01-06 false',
      '2027-01-13 true',
    ]);
  });

  it('reads the date in the train time zone', () => {
    // 23:30 UTC on a Tuesday is already Wednesday in Berlin.
    expect(localDate(new Date('2026-05-26T23:30:00Z'), 'Europe/Berlin')).toBe('2026-05-27');
  });

  it('a malformed schedule or an unknown time zone is a clear error', () => {
    const bad: ReleaseTrain = {
      ...T,
      timeZone: 'Mars/Olympus',
      lanes: { prod: { weekday: 'friday', everyWeeks: 0, anchor: '2026-01-08', action: 'x', ships: 'release-branch' } },
      freezes: [{ from: '2027-01-06', to: '2026-12-18', reason: 'backwards' }],
      holidays: [{ date: '2026-02-30', name: 'no such day' }],
    };
    expect(trainProblems(bad)).toEqual([
      'release train: unknown time zone "Mars/Olympus"',
      'lane prod: everyWeeks must be a whole number >= 1, got 0',
      'lane prod: anchor 2026-01-08 is not a friday',
      'freeze "backwards": from 2027-01-06 is after to 2026-12-18',
      'holiday "no such day": "2026-02-30" is not a calendar date',
    ]);
    expect(() => trainDecision(bad, 'prod', '2026-01-09')).toThrow(
      /release train is malformed: release train: unknown time zone/,
    );
    expect(() => trainDecision(T, 'qa', '2026-01-09')).toThrow(/no lane "qa": expected staging, prod/);
    expect(() => trainDecision(T, 'prod', '2026-13-01')).toThrow(/not a calendar date/);
  });
});

describe('kgraph-ci train', () => {
  it('prints the next dates per lane and what the first would ship', async () => {
    const r = await runCliCaptured(['train', '--date', '2027-01-04', '--count', '2']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('release train (Europe/Berlin), from 2027-01-04');
    expect(r.out).toContain('staging: cut release/<next minor> from develop');
    expect(r.out).toMatch(/2027-01-06 {2}skipped {2}staging train skipped: freeze "year-end freeze"/);
    expect(r.out).toMatch(/2027-01-13 {2}runs +staging train day; ships: /);
    expect(r.out).toMatch(/2027-01-20 {2}runs +staging train day; ships: what lands before then/);
    expect(r.out).toContain('prod: merge the release branch');
  });

  it('--today answers one lane with the exit code; bad input is exit 2', async () => {
    expect((await runCliCaptured(['train', '--lane', 'staging', '--today', '--date', '2027-01-13'])).code).toBe(0);
    const no = await runCliCaptured(['train', '--lane', 'prod', '--today', '--date', '2027-01-13']);
    expect([no.code, no.err.trim()]).toEqual([1, 'kgraph-ci: no: no prod train on 2027-01-13 (wednesday)']);
    expect((await runCliCaptured(['train', '--lane', 'qa'])).code).toBe(2);
    expect((await runCliCaptured(['train', '--date', '2027-02-30'])).err).toMatch(/not a calendar date/);
  });
});

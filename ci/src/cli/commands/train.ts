/** `kgraph-ci train`: the release train's next dates per lane and what each would ship. */
import type { Command } from 'commander';
import { RELEASE_TRAIN } from '../../definitions/environments.js';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { pendingFor } from '../../deliver/release/pending.js';
import { calendarDateProblem, localDate, trainDecision, upcomingTrains } from '../../deliver/release/train.js';
import { REPO_ROOT } from '../../platform/repo-root.js';
import { writeLine, type CliIo } from '../io.js';

interface TrainOptions {
  date?: string;
  count: string;
  lane?: string;
  today?: boolean;
}

async function runTrain(o: TrainOptions, io: CliIo): Promise<void> {
  const train = RELEASE_TRAIN;
  // What the user typed is checked here (exit 2); a fault in the train table itself is internal (exit 1).
  const problem = o.date === undefined ? undefined : calendarDateProblem(o.date);
  if (problem) throw new UsageError(`--date: ${problem}`);
  const date = o.date ?? localDate(new Date(), train.timeZone);
  const count = Number(o.count);
  if (!(Number.isInteger(count) && count >= 1 && count <= 52))
    throw new UsageError(`--count must be a whole number from 1 to 52, got "${o.count}"`);
  const lanes = o.lane ? [o.lane] : Object.keys(train.lanes);
  if (o.today) {
    // The scheduled workflows' question, one line: exit 0 = the train runs today, 1 = it does not.
    const d = trainDecision(train, lanes[0]!, date);
    if (!d.runs) throw new FailedError(`no: ${d.reason}`);
    writeLine(io.stdout, `yes: ${d.reason}`);
    return;
  }
  writeLine(io.stdout, `release train (${train.timeZone}), from ${date}`);
  for (const lane of lanes) {
    const days = upcomingTrains(train, lane, date, count);
    const pending = await pendingFor(io.cwd ?? REPO_ROOT, train.lanes[lane]!.ships);
    const ships =
      'unknown' in pending
        ? `unknown: ${pending.unknown}`
        : pending.commits.length === 0
          ? `nothing new in ${pending.range}: an empty train, nothing is cut`
          : `${pending.commits.length} commit(s) in ${pending.range}: ${pending.commits.slice(0, 5).join('; ')}${pending.commits.length > 5 ? '; …' : ''}`;
    writeLine(io.stdout, `\n${lane}: ${train.lanes[lane]!.action}`);
    let first = true;
    for (const d of days) {
      const what = d.runs ? (first ? ships : 'what lands before then') : '—';
      if (d.runs) first = false;
      writeLine(io.stdout, `  ${d.date}  ${d.runs ? 'runs   ' : 'skipped'}  ${d.reason}; ships: ${what}`);
    }
  }
}

export function register(program: Command, io: CliIo): void {
  program
    .command('train')
    .description('The release train: next dates per lane (staging cut, prod release) and what each would ship')
    .option('--date <YYYY-MM-DD>', "start from this date (default: today in the train's time zone)")
    .option('--count <n>', 'train days to list per lane', '4')
    .option('--lane <name>', `only this lane (${Object.keys(RELEASE_TRAIN.lanes).join(', ')})`)
    .option('--today', 'only answer whether the lane (--lane) runs on the date: exit 0 yes, 1 no')
    .action((o: TrainOptions) => {
      if (o.lane && !RELEASE_TRAIN.lanes[o.lane])
        throw new UsageError(`--lane "${o.lane}": expected one of ${Object.keys(RELEASE_TRAIN.lanes).join(', ')}`);
      if (o.today && !o.lane) throw new UsageError('--today needs --lane');
      return runTrain(o, io);
    });
}

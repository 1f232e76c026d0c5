/** Appends markdown to the GitHub job summary when $GITHUB_STEP_SUMMARY is set; a no-op elsewhere. */
import { appendFile } from 'node:fs/promises';

export async function appendJobSummary(markdown: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const path = env.GITHUB_STEP_SUMMARY;
  if (!path) return false;
  await appendFile(path, `${markdown.trimEnd()}\n\n`, 'utf8');
  return true;
}

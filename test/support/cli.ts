import { runCli } from '../../src/cli/main.js';

/** Runs a `gatehouse` command line in this process, through the CLI's own entry (runCli), capturing its output. */
export async function runCliInProcess(args: string[], environment: Record<string, string>, stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(args, environment, {
    stdout: (text) => void stdout.push(`${text}\n`),
    stderr: (text) => void stderr.push(`${text}\n`),
    readStdin: async () => stdin,
  });
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

// A command that does not serve (cli.ts: --help, backup, restore, invite, a bad command line) run in this
// process, as main.ts runs it in its own: its exit status and what it wrote. For the tests that need the
// command's result, not a process of its own (child-process.test-util.ts starts those).
import { runCommand } from './cli';

export interface CommandRun {
  code: number;
  signal: null;
  stdout: string;
  stderr: string;
}

/** `args` with `env` as the whole environment (HOST loopback unless `env` says otherwise). */
export const runCli = async (
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CommandRun> => {
  const output = { stdout: '', stderr: '' };
  const outcome = await runCommand(
    [...args],
    { HOST: '127.0.0.1', ...env },
    {
      out: (text) => void (output.stdout += text),
      err: (text) => void (output.stderr += text),
      now: Date.now,
    },
  );
  if (!('status' in outcome)) throw new Error(`${args.join(' ')} serves: start it as a process`);
  return { code: outcome.status, signal: null, ...output };
};

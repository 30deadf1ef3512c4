#!/usr/bin/env node
// Entry of the `fleet-agent` command; the compiled CLI lives in dist/ (npm run build).
import { runCli } from '../dist/cli/main.js';

process.exitCode = await runCli(process.argv.slice(2));

// `npm start`: install what is missing, build (cached by turbo), then run the control plane.
// The server migrates the database at start-up and logs the URL it listens on.
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ensureDependencies, must, quietEnv, root, turbo } from './lib.mjs';

await ensureDependencies();
console.log('Building the control plane (cached after the first run)…');
await must(turbo, ['run', 'build', '--filter=@fleet/control-plane...', '--output-logs=errors-only'], 'Build');

const server = spawn(process.execPath, [path.join(root, 'apps/control-plane/dist/server/main.js')], {
  cwd: root,
  stdio: 'inherit',
  env: { ...quietEnv, NODE_ENV: process.env.NODE_ENV === 'development' ? 'development' : 'production' },
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => server.kill(signal));
}
server.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1)));

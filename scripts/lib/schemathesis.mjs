// Schemathesis (PyPI), the property-based API tester `npm test` runs against /openapi.json. Built-ins only: it is
// installed by bootstrap --test into a virtualenv under the git-ignored .tools/, pinned for reproducible runs.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { TOOLS_DIR, findOnPath, isExecutable } from './tools.mjs';

export const SCHEMATHESIS_VERSION = '4.32.5';

const venv = (root) => path.join(TOOLS_DIR(root), 'schemathesis');

/** The `schemathesis` executable of the pinned version in .tools/, or undefined when it is not installed. */
export function findSchemathesis(root) {
  const bin = path.join(venv(root), 'bin', 'schemathesis');
  if (!isExecutable(bin)) return undefined;
  const version = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return version.status === 0 && version.stdout.includes(SCHEMATHESIS_VERSION) ? bin : undefined;
}

/** Creates .tools/schemathesis (a Python virtualenv) with the pinned version. Returns the executable or undefined. */
export function installSchemathesis(root, log = console.log) {
  const installed = findSchemathesis(root);
  if (installed) return installed;
  const python = findOnPath('python3') ?? findOnPath('python');
  if (!python) {
    log('python3 is missing: the schemathesis API test will fail until python3 (>= 3.10, with venv) is installed');
    return undefined;
  }
  log(`installing schemathesis ${SCHEMATHESIS_VERSION} (PyPI) into ${path.relative(root, venv(root))}/`);
  const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'inherit', cwd: root }).status === 0;
  const pip = path.join(venv(root), 'bin', 'pip');
  const ok =
    run(python, ['-m', 'venv', '--clear', venv(root)]) &&
    run(pip, ['install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`]);
  if (!ok) log('could not install schemathesis; the schemathesis API test will fail until it is installed');
  return findSchemathesis(root);
}

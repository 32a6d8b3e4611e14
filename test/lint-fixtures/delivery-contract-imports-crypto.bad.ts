// lint as: src/delivery/fixture.ts
// A contract the workflow bundle loads, reaching for a Node built-in.
import { createHash } from 'node:crypto';

export const used = [createHash];

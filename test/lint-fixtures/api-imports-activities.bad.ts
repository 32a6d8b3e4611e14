// lint as: src/api/routes/fixture.ts
// A route module one folder deeper, building requests with the activity's code.
import { createTransformRunner } from '../../activities/transform-runner';

export const used = [createTransformRunner];

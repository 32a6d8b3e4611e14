import type { EventText } from '../domain/event';
import type { TransformResult, TransformRunLimits } from './transform';

/** Messages between {@link TransformPool} and its child processes (`transform-child.ts`), over the IPC channel. */

/** Sent once the child has loaded and can take work. */
export const CHILD_READY = 'transform-child-ready';

/** The first message to a child: the limits every evaluation in it runs under. */
export interface ChildSetup {
  readonly setup: { readonly limits: TransformRunLimits };
}

export interface ChildTask {
  readonly id: number;
  readonly expression: string;
  readonly event: EventText;
}

export type ChildReply =
  | { readonly id: number; readonly ok: true; readonly result: TransformResult }
  | {
      readonly id: number;
      readonly ok: false;
      readonly message: string;
      readonly jsonataCode?: string;
      readonly position?: number;
    };

import { WssError } from '../domain/errors';
import type { ChildReply, ChildSetup, ChildTask } from './child-protocol';
import { CHILD_READY } from './child-protocol';
import type { CompiledTransform, TransformRunLimits } from './transform';
import { compileTransform, runTransform, TransformFailedError } from './transform';

/**
 * The body of one transform process of {@link TransformPool}: it evaluates one transform at a time and answers
 * with the result or a failure whose message is safe to log (it never quotes payload values). The pool enforces
 * the hard limits from outside (a deadline, and the heap cap it starts the process with); this side only runs
 * {@link runTransform}.
 */

const MAX_CACHED = 1000;

function serve(): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('transform-child runs only as a child process with an IPC channel');
  let limits: TransformRunLimits | undefined;
  // Compiled per expression text: endpoints sharing an expression share the parse, and an edited endpoint's
  // new text is simply another key.
  const cache = new Map<string, CompiledTransform>();
  const compiled = (expression: string): CompiledTransform => {
    let entry = cache.get(expression);
    if (entry === undefined) {
      if (cache.size >= MAX_CACHED) cache.clear();
      entry = compileTransform(expression);
      cache.set(expression, entry);
    }
    return entry;
  };

  const handle = async (task: ChildTask): Promise<ChildReply> => {
    try {
      if (limits === undefined) throw new Error('no setup message');
      return { id: task.id, ok: true, result: await runTransform(compiled(task.expression), task.event, limits) };
    } catch (err) {
      if (err instanceof TransformFailedError) {
        return {
          id: task.id,
          ok: false,
          message: err.message,
          ...(err.jsonataCode !== undefined ? { jsonataCode: err.jsonataCode } : {}),
          ...(err.position !== undefined ? { position: err.position } : {}),
        };
      }
      // A stored expression that no longer compiles: the message is about the expression, not the payload.
      if (err instanceof WssError) return { id: task.id, ok: false, message: err.message };
      // Anything else could carry payload text in its message: only its kind crosses over.
      const kind = err instanceof Error ? err.name : typeof err;
      return { id: task.id, ok: false, message: `transform: evaluation failed (${kind})` };
    }
  };

  process.on('message', (message: ChildSetup | ChildTask) => {
    if ('setup' in message) {
      limits = message.setup.limits;
      send(CHILD_READY);
      return;
    }
    void handle(message).then((reply) => send(reply));
  });
  // The pool went away (its process ended or closed the channel): nothing is left to answer to.
  process.on('disconnect', () => process.exit(0));
}

serve();

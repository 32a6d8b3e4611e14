/**
 * Shared building blocks of the portal's pages: the time display (in the user's zone), an error's message for the
 * user, the focusable page heading, the scrollable table region, the error box with its retry, the loading
 * placeholder, the modal dialog, the once-shown secret, and field-level form errors (message, ARIA attributes, focus).
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export const TIME_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A time in the user's time zone, with the ISO value as the machine-readable form. */
export function Time({ iso }: { iso: string }) {
  const date = new Date(iso);
  return <time dateTime={iso}>{Number.isNaN(date.getTime()) ? iso : timeFormat.format(date)}</time>;
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.field ? `${err.message}` : err.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The page's main heading, focusable by script: focus moves here after sign-in and route changes. One that
 * replaces another (a loaded page after its placeholder) takes the focus the removed one had.
 */
export function PageHeading({ children, class: className }: { children: ComponentChildren; class?: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (document.activeElement === document.body || document.activeElement === null) ref.current?.focus();
  }, []);
  return (
    <h1 ref={ref} tabIndex={-1} class={className}>
      {children}
    </h1>
  );
}

/** A table that may scroll sideways on a narrow screen: a named region a keyboard can reach and scroll. */
export function TableWrap({ label, busy, children }: { label: string; busy?: boolean; children: ComponentChildren }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={label} aria-busy={busy}>
      {children}
    </div>
  );
}

/** Which input of a form an API error is about: its `field` (first segment), named by `ids` (field → input id). */
function invalidInput(err: unknown, ids: Record<string, string>): { id: string; message: string } | undefined {
  if (!(err instanceof ApiError)) return undefined;
  // A refused destination is always about the URL, though the API names no field for it.
  const field = err.field?.split('.')[0] ?? (err.code === 'destination_not_allowed' ? 'url' : undefined);
  const id = field === undefined ? undefined : ids[field];
  if (id === undefined) return undefined;
  const prefix = `${err.field ?? ''}: `;
  return { id, message: err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message };
}

/**
 * Field-level errors of a form: the message beside the input, `aria-invalid` and `aria-describedby` on it, and focus
 * moved to it.
 */
export function useFieldErrors(ids: Record<string, string>) {
  const [invalid, setInvalid] = useState<{ id: string; message: string }>();
  useEffect(() => {
    if (invalid) document.getElementById(invalid.id)?.focus();
  }, [invalid]);
  return {
    clear: () => setInvalid(undefined),
    /** Shows the error beside its field; false when it names no field of this form. */
    show: (err: unknown): boolean => {
      const found = invalidInput(err, ids);
      setInvalid(found);
      return found !== undefined;
    },
    /** Attributes for the input `id` (keeping its own hint in `describedBy`). */
    props: (id: string, describedBy?: string) => {
      const described = [describedBy, invalid?.id === id ? `${id}-error` : undefined].filter(Boolean).join(' ');
      return { 'aria-invalid': invalid?.id === id ? true : undefined, 'aria-describedby': described || undefined };
    },
    message: (id: string) =>
      invalid?.id === id ? (
        <p id={`${id}-error`} class="field-error">
          {invalid.message}
        </p>
      ) : null,
  };
}

export function ErrorBox({ message, retry }: { message: string; retry?: () => void }) {
  return (
    <div class="error" role="alert">
      <p>{message}</p>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** A placeholder while loading; `fill`: at least a screen high. */
export function Loading({ rows = 3, fill = false }: { rows?: number; fill?: boolean }) {
  return (
    <div class={fill ? 'skeleton fill' : 'skeleton'} aria-busy="true" aria-label="Loading">
      {Array.from({ length: rows }, (_, i) => (
        <div key={i} class="skeleton-row" />
      ))}
    </div>
  );
}

/** A modal dialog (native <dialog>: focus stays inside, Escape closes). */
export function Modal({
  title,
  children,
  onClose,
}: {
  title: string;
  children: ComponentChildren;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby="modal-title" onClose={onClose}>
      <h2 id="modal-title">{title}</h2>
      {children}
    </dialog>
  );
}

/** A secret shown once, with a copy button. */
export function SecretOnce({ secret, onDone }: { secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <Modal title="Signing secret" onClose={onDone}>
      <p>Copy it now: it is shown only once.</p>
      <code class="secret" data-testid="secret-value">
        {secret}
      </code>
      <div class="actions">
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard?.writeText(secret).then(() => setCopied(true));
          }}
        >
          Copy
        </button>
        <span role="status">{copied ? 'Copied to the clipboard' : ''}</span>
        <button type="button" class="primary" onClick={onDone}>
          Done
        </button>
      </div>
    </Modal>
  );
}

/**
 * Shared building blocks of the portal's pages: the time display (in the user's zone), an error's message for the
 * user, the focusable page heading, the scrollable table region, the error box with its retry, the loading
 * placeholder, the modal dialog, the once-shown secret, field-level form errors (message, ARIA attributes, focus),
 * and untrusted text shown with its bidi controls made visible.
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
 * Whether asking again may succeed: no answer (network), a server error (5xx) or too many requests (429). A 4xx
 * answer (not found, bad request) is the same the next time, so no "Try again" is offered for it.
 */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof ApiError)) return true;
  return err.status === 0 || err.status === 429 || err.status >= 500;
}

/** A failed load, as the page shows it: the message, and whether "Try again" can help. */
export interface LoadError {
  message: string;
  status?: number;
  retryable: boolean;
}

export function loadErrorOf(err: unknown): LoadError {
  return {
    message: messageOf(err),
    ...(err instanceof ApiError ? { status: err.status } : {}),
    retryable: isRetryable(err),
  };
}

// Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the marks (U+200E, U+200F, U+061C).
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

/**
 * Text from outside the tenant's control (a receiver's answer, an error, an event's type or id, an endpoint's name)
 * with its bidi control characters shown as `⟨U+202E⟩` markers, so they cannot reorder what is displayed.
 */
export function visibleBidi(text: string): string {
  return text.replace(BIDI_CONTROLS, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
}

/** Untrusted text, bidi controls made visible and isolated (<bdi>) from the text around it. */
export function Untrusted({ text }: { text: string }) {
  return <bdi>{visibleBidi(text)}</bdi>;
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

/** An error; `retry` gives it a "Try again" button (pass it only when asking again can help: see isRetryable). */
export function ErrorBox({ message, retry }: { message: string; retry?: () => void }) {
  return (
    <div class="error" role="alert">
      <p>
        <Untrusted text={message} />
      </p>
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

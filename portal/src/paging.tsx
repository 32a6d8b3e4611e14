/**
 * Cursor-paged lists: the hook that loads a list page by page (dropping answers for a query no longer current), and
 * the "Show more" button under such a list, with the error of a failed page and its retry, which moves focus to the
 * first row it loaded.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import type { Page } from './api';
import { ErrorBox, Loading, loadErrorOf } from './ui';
import type { LoadError } from './ui';

interface Paged<T> {
  items: T[];
  nextCursor?: string;
  /** The first page has been answered (for the current query). */
  loaded: boolean;
  loading: boolean;
  error?: LoadError;
  loadingMore: boolean;
  moreError?: LoadError;
  /** Where the rows of the latest "Show more" page start in `items`; a new object for every such page. */
  appended?: { at: number };
}

/**
 * A cursor-paged list (`{items, nextCursor}`) at `url`, which holds the query (with `limit`), with "Show more". An
 * answer for a query that is no longer current (the filters changed while it was on its way) is dropped. No `url`
 * (a query the page knows is not valid): nothing is asked, and the list is left as it was.
 */
export function usePaged<T>(url: string | undefined) {
  const [state, setState] = useState<Paged<T>>({ items: [], loaded: false, loading: true, loadingMore: false });
  const [tick, setTick] = useState(0);
  // Bumped for every new first page: an answer carries the generation it was asked in.
  const generation = useRef(0);
  useEffect(() => {
    if (url === undefined) return undefined;
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true, error: undefined, loadingMore: false, moreError: undefined }));
    api<Page<T>>('GET', url).then(
      (page) =>
        mine === generation.current &&
        setState({ items: page.items, nextCursor: page.nextCursor, loaded: true, loading: false, loadingMore: false }),
      (err: unknown) =>
        mine === generation.current &&
        setState({ items: [], loaded: false, loading: false, error: loadErrorOf(err), loadingMore: false }),
    );
    return () => {
      generation.current++;
    };
  }, [url, tick]);
  const showMore = () => {
    const cursor = state.nextCursor;
    if (url === undefined || !cursor || state.loadingMore) return;
    const mine = generation.current;
    setState((s) => ({ ...s, loadingMore: true, moreError: undefined }));
    api<Page<T>>('GET', `${url}&cursor=${encodeURIComponent(cursor)}`).then(
      (page) =>
        mine === generation.current &&
        setState((s) => ({
          ...s,
          items: [...s.items, ...page.items],
          nextCursor: page.nextCursor,
          loadingMore: false,
          appended: { at: s.items.length },
        })),
      (err: unknown) =>
        mine === generation.current && setState((s) => ({ ...s, loadingMore: false, moreError: loadErrorOf(err) })),
    );
  };
  return { ...state, reload: () => setTick((t) => t + 1), showMore };
}

/**
 * "Show more" under a paged list, with the error of a failed page and its retry. Once a page arrives, focus moves to
 * `focusTarget(at)` (the first new row's link; `at` is its index in the list), unless the user has moved it
 * elsewhere meanwhile: otherwise it would fall to <body> when the button goes with the last page.
 */
export function ShowMore({
  list,
  label = 'Show more',
  focusTarget,
}: {
  list: ReturnType<typeof usePaged>;
  label?: string;
  focusTarget: (at: number) => HTMLElement | null | undefined;
}) {
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (!list.appended) return;
    const active = document.activeElement;
    if (active === null || active === document.body || active === button.current)
      focusTarget(list.appended.at)?.focus();
  }, [list.appended]);
  return (
    <>
      {/* A screen-high placeholder, shown as the button is clicked (a shift the user caused): the rows arriving
          later take its place without moving anything in view. */}
      {list.loadingMore && <Loading fill />}
      {list.moreError && (
        <ErrorBox message={list.moreError.message} retry={list.moreError.retryable ? list.showMore : undefined} />
      )}
      {list.nextCursor && (
        <div class="actions">
          <button ref={button} type="button" disabled={list.loadingMore} onClick={list.showMore}>
            {list.loadingMore ? 'Loading…' : label}
          </button>
        </div>
      )}
    </>
  );
}

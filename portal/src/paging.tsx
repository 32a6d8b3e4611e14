/**
 * Cursor-paged lists: the hook that loads a list page by page (dropping answers for a query no longer current), and
 * the "Show more" button under such a list, with the error of a failed page and its retry.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import type { Page } from './api';
import { ErrorBox, Loading, messageOf } from './ui';

interface Paged<T> {
  items: T[];
  nextCursor?: string;
  /** The first page has been answered (for the current query). */
  loaded: boolean;
  loading: boolean;
  error?: string;
  loadingMore: boolean;
  moreError?: string;
}

/**
 * A cursor-paged list (`{items, nextCursor}`) at `url`, which holds the query (with `limit`), with "Show more". An
 * answer for a query that is no longer current (the filters changed while it was on its way) is dropped.
 */
export function usePaged<T>(url: string) {
  const [state, setState] = useState<Paged<T>>({ items: [], loaded: false, loading: true, loadingMore: false });
  const [tick, setTick] = useState(0);
  // Bumped for every new first page: an answer carries the generation it was asked in.
  const generation = useRef(0);
  useEffect(() => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true, error: undefined, loadingMore: false, moreError: undefined }));
    api<Page<T>>('GET', url).then(
      (page) =>
        mine === generation.current &&
        setState({ items: page.items, nextCursor: page.nextCursor, loaded: true, loading: false, loadingMore: false }),
      (err: unknown) =>
        mine === generation.current &&
        setState({ items: [], loaded: false, loading: false, error: messageOf(err), loadingMore: false }),
    );
    return () => {
      generation.current++;
    };
  }, [url, tick]);
  const showMore = () => {
    const cursor = state.nextCursor;
    if (!cursor || state.loadingMore) return;
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
        })),
      (err: unknown) =>
        mine === generation.current && setState((s) => ({ ...s, loadingMore: false, moreError: messageOf(err) })),
    );
  };
  return { ...state, reload: () => setTick((t) => t + 1), showMore };
}

/** "Show more" under a paged list, with the error of a failed page and its retry. */
export function ShowMore({ list, label = 'Show more' }: { list: ReturnType<typeof usePaged>; label?: string }) {
  return (
    <>
      {/* A screen-high placeholder, shown as the button is clicked (a shift the user caused): the rows arriving
          later take its place without moving anything in view. */}
      {list.loadingMore && <Loading fill />}
      {list.moreError && <ErrorBox message={list.moreError} retry={list.showMore} />}
      {list.nextCursor && (
        <div class="actions">
          <button type="button" disabled={list.loadingMore} onClick={list.showMore}>
            {list.loadingMore ? 'Loading…' : label}
          </button>
        </div>
      )}
    </>
  );
}

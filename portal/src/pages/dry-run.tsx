/**
 * The dry run panel of the endpoint page: the editor's unsaved subscription tried against a sample event, refreshed
 * as the user types, showing why it would not be delivered or the exact body and signed headers it would send.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import type { DryRun } from '../api';
import { parseFilter, splitTypes } from '../subscription-text';
import { Untrusted, messageOf } from '../ui';

const MISS_TEXT: Record<string, string> = {
  filter: 'Not delivered: the filter does not match',
  event_type: 'Not delivered: the endpoint is not subscribed to this event type',
  endpoint_disabled: 'Not delivered: the endpoint is disabled',
};

/** The dry run of the editor's unsaved subscription, refreshed as the user types. */
export function DryRunPanel(props: {
  base: string;
  types: string;
  filter: string;
  transform: string;
  sampleType: string;
  setSampleType: (v: string) => void;
  sampleData: string;
  setSampleData: (v: string) => void;
}) {
  const { base, types, filter, transform, sampleType, sampleData } = props;
  const [result, setResult] = useState<{ run?: DryRun; error?: string; pending: boolean }>({ pending: true });
  const seq = useRef(0);
  useEffect(() => {
    const id = ++seq.current;
    setResult((r) => ({ ...r, pending: true }));
    const timer = setTimeout(() => {
      const parsed = parseFilter(filter);
      if (!parsed.ok) return setResult({ error: 'The filter is not valid JSON yet.', pending: false });
      try {
        JSON.parse(sampleData);
      } catch {
        return setResult({ error: 'The sample data is not valid JSON yet.', pending: false });
      }
      const draft = JSON.stringify({
        eventTypes: splitTypes(types),
        filter: parsed.value,
        transform: transform.trim() === '' ? null : transform,
      });
      const body = `{"type":${JSON.stringify(sampleType.trim())},"data":${sampleData},"draft":${draft}}`;
      api<DryRun>('POST', `${base}/test`, body).then(
        (run) => id === seq.current && setResult({ run, pending: false }),
        (err: unknown) => id === seq.current && setResult({ error: messageOf(err), pending: false }),
      );
    }, 250);
    return () => clearTimeout(timer);
  }, [base, types, filter, transform, sampleType, sampleData]);

  const { run, error } = result;
  return (
    <section class="panel" aria-labelledby="dry-title">
      <h2 id="dry-title">Dry run</h2>
      <label for="dry-type">Sample event type</label>
      <input id="dry-type" value={sampleType} onInput={(e) => props.setSampleType(e.currentTarget.value)} />
      <label for="dry-data">Sample data (JSON)</label>
      <textarea
        id="dry-data"
        rows={4}
        spellcheck={false}
        value={sampleData}
        onInput={(e) => props.setSampleData(e.currentTarget.value)}
      />
      <div role="status" aria-label="Dry run result" class="dry-result" aria-busy={result.pending}>
        {error && (
          <p class="bad">
            <Untrusted text={error} />
          </p>
        )}
        {run && !error && !run.matches && <p class="bad">{MISS_TEXT[run.reason] ?? `Not delivered: ${run.reason}`}</p>}
        {run && !error && run.matches && (
          <>
            <p class="good">Would be delivered</p>
            <h3>Body</h3>
            <pre data-testid="dry-run-body">{run.body}</pre>
            <h3>Signed headers</h3>
            <dl class="fields" data-testid="dry-run-headers">
              {Object.entries(run.headers).map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>
                    <code class="break">{v}</code>
                  </dd>
                </div>
              ))}
            </dl>
          </>
        )}
      </div>
    </section>
  );
}

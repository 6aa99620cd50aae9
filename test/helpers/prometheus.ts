import parsePrometheusTextFormat, { type PrometheusFamily, type PrometheusSample } from 'parse-prometheus-text-format';

export interface Scrape {
  status: number;
  contentType: string | null;
  families: PrometheusFamily[];
}

/** GETs a metrics endpoint as Prometheus does and parses the text format with a real parser. */
export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get('content-type'), families: parsePrometheusTextFormat(text) };
}

/** The family called `name`; throws naming the families there are when it is missing. */
export function family(families: readonly PrometheusFamily[], name: string): PrometheusFamily {
  const found = families.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no metric ${name}; the scrape has ${families.map((f) => f.name).join(', ')}`);
  return found;
}

/** The sample of `name` whose labels include `labels`. */
export function sample(families: readonly PrometheusFamily[], name: string, labels: Record<string, string> = {}): PrometheusSample {
  const found = family(families, name).metrics.find((candidate) =>
    Object.entries(labels).every(([key, value]) => candidate.labels?.[key] === value),
  );
  if (found === undefined) throw new Error(`no sample of ${name} with labels ${JSON.stringify(labels)}`);
  return found;
}

/** The value of a counter or gauge sample, as a number. */
export function value(families: readonly PrometheusFamily[], name: string, labels: Record<string, string> = {}): number {
  return Number(sample(families, name, labels).value);
}

/** Every sample of a labelled family as label value → number, e.g. { classified: 3, silent: 1 }. */
export function byLabel(families: readonly PrometheusFamily[], name: string, label: string): Record<string, number> {
  return Object.fromEntries(family(families, name).metrics.map((m) => [m.labels?.[label] ?? '', Number(m.value)]));
}

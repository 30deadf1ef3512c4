/** One label of a series. `__name__` holds the metric name. */
export interface Label {
  name: string;
  value: string;
}

/**
 * A label set. Functions that accept one do not mutate it. Label sets handed to the
 * remote-write stage are sorted by name, with unique names and no empty values.
 */
export type Labels = readonly Label[];

export const METRIC_NAME_LABEL = '__name__';

/** Returns the labels sorted by name (a new array). */
export function sortLabels(labels: Labels): Label[] {
  return [...labels].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The value of `name`, or '' when absent (Prometheus semantics: absent and empty are the same). */
export function getLabel(labels: Labels, name: string): string {
  for (const l of labels) if (l.name === name) return l.value;
  return '';
}

/** A stable string key of a sorted label set, for maps and hashing. */
export function labelsKey(labels: Labels): string {
  let key = '';
  for (const l of labels) key += `${l.name}\u0000${l.value}\u0001`;
  return key;
}

/** `name{a="1", b="2"}` — for logs and error messages. */
export function formatLabels(labels: Labels): string {
  const name = getLabel(labels, METRIC_NAME_LABEL);
  const rest = labels
    .filter((l) => l.name !== METRIC_NAME_LABEL)
    .map((l) => `${l.name}=${JSON.stringify(l.value)}`)
    .join(', ');
  return `${name}{${rest}}`;
}

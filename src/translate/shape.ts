// Objects from the file source are user-written YAML that nothing validated against the API
// schema (a Kubernetes API server would have): a list may be a string, a host a number. Readers
// go through these guards so a malformed field is skipped or reported, never a TypeError.

/** `value` when it is an array, else an empty list. */
export function listOf<T>(value: readonly T[] | null | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}

/** True for a non-null, non-array object (keeps the declared type of `value`). */
export function isObject<T>(value: T): value is NonNullable<T> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

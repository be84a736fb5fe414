/**
 * Sets `key` in a map kept in least-recently-used order (a Map iterates in insertion order) and,
 * past `maxEntries`, lets the least recently used entry go. Setting a key again moves it to the end.
 */
export function setRecent<K, V>(map: Map<K, V>, key: K, value: V, maxEntries: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size <= maxEntries) return
  const [oldest] = map.keys()
  if (oldest !== undefined) map.delete(oldest)
}

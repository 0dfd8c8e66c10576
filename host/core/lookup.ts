// Name tables read with names from files and users: only a table's own entries count, so
// '__proto__', 'constructor' or 'toString' are unknown names, not members of Object.prototype.
export function ownEntry<T>(table: Readonly<Record<string, T>>, key: unknown): T | undefined {
  return typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined;
}

/**
 * Sets an own, enumerable property even for keys like `__proto__` (plain assignment would change
 * the prototype and hide the key from iteration — attacker-controlled annotation keys must not).
 */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

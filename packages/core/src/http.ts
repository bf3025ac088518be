/**
 * A `Retry-After` header (RFC 9110 10.2.3: delay-seconds or an HTTP-date) as a delay in ms from
 * `now`; undefined when absent or unreadable. A date in the past is 0. The HTTP-date forms
 * (IMF-fixdate, RFC 850, asctime) are all GMT, asctime's too, though it does not say so.
 * @public
 */
export function retryAfterMs(
  value: string | readonly string[] | null | undefined,
  now: number = Date.now(),
): number | undefined {
  const text = (typeof value === 'string' ? value : value?.[0])?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date starts with the day's name; anything else (an ISO date, a negative number) is not one.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const date = Date.parse(/ GMT$/.test(text) ? text : `${text} GMT`);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

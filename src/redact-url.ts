/**
 * The URL with any password replaced by ***. Split where a URL parser splits (the user information
 * ends at the authority's last `@`, and a user name may hold one, as in Azure's `user@server`); anything
 * else with a scheme (a URL that does not parse, `postgres:/u:pw@h`, `pg://…`) loses everything between
 * the scheme and its last `@`. No driver here: a store location is checked before any is loaded.
 */
export function redact(url: string): string {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    /* below */
  }
  if (u && /^postgres(?:ql)?:$/i.test(u.protocol) && u.host && !atAfterHost(u)) {
    if (u.password) u.password = '***';
    return u.href;
  }
  const m = /^([a-z][a-z0-9+.-]*:\/*)(.*)@(.*)$/is.exec(url);
  return m ? `${m[1]}***@${m[3]}` : url;
}

/** A command line for a record (eval's report): each argument, or the value of `--opt=value`, redacted. */
export function redactArgs(args: readonly string[]): string[] {
  return args.map((a) => {
    const m = /^(--?[A-Za-z][\w-]*=)(.*)$/s.exec(a);
    return m ? m[1]! + redact(m[2]!) : redact(a);
  });
}

/** Free text that may quote a URL (a parse error echoing `--stroe=postgres://u:pw@h`): user information masked. */
export const redactText = (text: string): string => text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s'"`]*@/gi, '$1***@');

/**
 * An `@` after the host: a password holding `#`, `?` or `/` unencoded (`postgres://u:4711#pw@h/db` parses
 * as host u, port 4711, and the rest as a fragment), so the parsed URL would show the password.
 */
export const atAfterHost = (u: URL): boolean => `${u.pathname}${u.search}${u.hash}`.includes('@');

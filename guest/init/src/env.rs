//! The container process's environment and the lookup of its argv[0], Docker style.

/// Docker's default PATH, used when neither the image nor the runtime sets one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Merges `K=V` entries: a later entry for the same key replaces the earlier value in place, so
/// the image's order is kept and the runtime's values win. Entries without `=` are dropped
/// (execve would pass them on as garbage). Then adds PATH, HOSTNAME and HOME when unset.
pub fn build(request_env: &[String], home: &str, hostname: &str) -> Vec<String> {
    let mut env: Vec<String> = Vec::with_capacity(request_env.len() + 3);
    for entry in request_env {
        let Some((key, _)) = entry.split_once('=') else { continue };
        if key.is_empty() {
            continue;
        }
        match env.iter_mut().find(|e| e.split_once('=').map(|(k, _)| k) == Some(key)) {
            Some(slot) => slot.clone_from(entry),
            None => env.push(entry.clone()),
        }
    }
    for (key, value) in [("PATH", DEFAULT_PATH), ("HOSTNAME", hostname), ("HOME", home)] {
        if get(&env, key).is_none() {
            env.push(format!("{key}={value}"));
        }
    }
    env
}

/// The value of `key` in a `K=V` list.
pub fn get<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter().find_map(|e| e.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

/// Finds the program to execute, as Docker does: a name containing '/' is used as is; otherwise
/// the first `dir/name` along PATH that `is_executable` accepts (a regular file with an execute
/// bit). An empty PATH element means the current directory.
pub fn lookup(name: &str, path: &str, is_executable: impl Fn(&str) -> bool) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    if name.contains('/') {
        return Some(name.to_string());
    }
    path.split(':').map(|dir| if dir.is_empty() { "." } else { dir }).find_map(|dir| {
        let candidate = format!("{}/{name}", dir.trim_end_matches('/'));
        is_executable(&candidate).then_some(candidate)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn later_duplicates_win_in_place() {
        let env = build(&s(&["PATH=/bin", "A=1", "B=2", "A=3", "NOEQUALS", "=x", "C="]), "/root", "box");
        assert_eq!(env, s(&["PATH=/bin", "A=3", "B=2", "C=", "HOSTNAME=box", "HOME=/root"]));
    }

    #[test]
    fn defaults_only_when_unset() {
        let env = build(&s(&["HOME=/custom", "HOSTNAME=h"]), "/root", "box");
        assert_eq!(get(&env, "HOME"), Some("/custom"));
        assert_eq!(get(&env, "HOSTNAME"), Some("h"));
        assert_eq!(get(&env, "PATH"), Some(DEFAULT_PATH));
        assert_eq!(get(&env, "PAT"), None);
    }

    #[test]
    fn path_lookup_follows_docker() {
        let exists = |p: &str| p == "/usr/bin/ls" || p == "/bin/ls" || p == "./tool";
        assert_eq!(lookup("ls", "/nope:/usr/bin/:/bin", exists).as_deref(), Some("/usr/bin/ls"));
        assert_eq!(lookup("ls", "/bin:/usr/bin", exists).as_deref(), Some("/bin/ls"));
        assert_eq!(lookup("tool", "/bin::/usr/bin", exists).as_deref(), Some("./tool"));
        assert_eq!(lookup("missing", DEFAULT_PATH, exists), None);
        assert_eq!(lookup("./rel/x", "", exists).as_deref(), Some("./rel/x"));
        assert_eq!(lookup("/abs/missing", "/bin", exists).as_deref(), Some("/abs/missing"));
        assert_eq!(lookup("", "/bin", |_| true), None);
    }
}

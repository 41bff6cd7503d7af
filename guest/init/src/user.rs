//! Resolving the image's `User` (`name`, `uid`, `name:group`, `uid:gid`, ...) through the
//! container's /etc/passwd and /etc/group, the way Docker (runc) does:
//! - an empty spec is root (uid 0, gid 0);
//! - a user name must exist in passwd; a numeric uid may be absent (then gid 0, HOME /);
//! - an explicit group (name or gid) sets the primary gid; a group name must exist in group;
//! - without an explicit group, the supplementary groups are the groups that list the user's
//!   name as a member.

/// One line of /etc/passwd (the fields the init needs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// One line of /etc/group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Who the container process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups for setgroups(2).
    pub groups: Vec<u32>,
    /// From passwd; "/" when the user has no entry.
    pub home: String,
}

/// Parses /etc/passwd text; malformed lines are skipped (as libc's readers do).
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 || f[0].is_empty() || line.starts_with('#') {
                return None;
            }
            Some(PasswdEntry { name: f[0].into(), uid: f[2].parse().ok()?, gid: f[3].parse().ok()?, home: f[5].into() })
        })
        .collect()
}

/// Parses /etc/group text; malformed lines are skipped.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 || f[0].is_empty() || line.starts_with('#') {
                return None;
            }
            let members = f[3].split(',').map(str::trim).filter(|m| !m.is_empty()).map(String::from).collect();
            Some(GroupEntry { name: f[0].into(), gid: f[2].parse().ok()?, members })
        })
        .collect()
}

/// A numeric id as runc accepts it: decimal digits that fit in 32 bits.
fn numeric_id(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Resolves a user spec against parsed passwd and group files. The error is a complete sentence
/// for the Error frame.
pub fn resolve(spec: &str, passwd: &[PasswdEntry], groups: &[GroupEntry]) -> Result<ExecUser, String> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, g),
        None => (spec, ""),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let uid_arg = numeric_id(user_part);
    if uid_arg.is_none() && user_part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("user {user_part}: not a valid uid"));
    }

    let entry = passwd.iter().find(|p| p.name == user_part || Some(p.uid) == uid_arg);
    let mut user = match (entry, uid_arg) {
        (Some(p), _) => ExecUser { uid: p.uid, gid: p.gid, groups: vec![], home: p.home.clone() },
        (None, Some(uid)) => ExecUser { uid, gid: 0, groups: vec![], home: "/".into() },
        (None, None) => return Err(format!("unable to find user {user_part}: no matching entries in passwd file")),
    };

    if !group_part.is_empty() {
        let gid_arg = numeric_id(group_part);
        user.gid = match groups.iter().find(|g| g.name == group_part || Some(g.gid) == gid_arg) {
            Some(g) => g.gid,
            None => match gid_arg {
                Some(gid) => gid,
                None if group_part.bytes().all(|b| b.is_ascii_digit()) => {
                    return Err(format!("group {group_part}: not a valid gid"))
                }
                None => return Err(format!("unable to find group {group_part}: no matching entries in group file")),
            },
        };
    } else if let Some(p) = entry {
        for g in groups.iter().filter(|g| g.members.contains(&p.name)) {
            if !user.groups.contains(&g.gid) {
                user.groups.push(g.gid);
            }
        }
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                          # comment\n\
                          broken line\n\
                          user:x:1000:1000:user:/home/user:/bin/sh\n\
                          svc:x:1001:1001::/srv:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:root,user\nuser:x:1000:\nstaff:x:50: user , svc\n";

    fn resolve_str(spec: &str) -> Result<ExecUser, String> {
        resolve(spec, &parse_passwd(PASSWD), &parse_group(GROUP))
    }

    #[test]
    fn parses_files_and_skips_junk() {
        let p = parse_passwd(PASSWD);
        assert_eq!(p.len(), 3);
        assert_eq!(p[1], PasswdEntry { name: "user".into(), uid: 1000, gid: 1000, home: "/home/user".into() });
        let g = parse_group(GROUP);
        assert_eq!(g[3].members, vec!["user".to_string(), "svc".to_string()]);
        assert!(parse_passwd("a:x:notanumber:0::/:/bin/sh").is_empty());
    }

    #[test]
    fn empty_spec_is_root_with_its_groups() {
        let u = resolve_str("").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert_eq!(u.groups, vec![10]);
        // No passwd at all: still root.
        let u = resolve("", &[], &[]).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/"));
    }

    #[test]
    fn names_and_numbers() {
        let u = resolve_str("user").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/home/user"));
        assert_eq!(u.groups, vec![10, 50]);
        assert_eq!(resolve_str("1000").unwrap(), u);
        let n = resolve_str("4242").unwrap();
        assert_eq!((n.uid, n.gid, n.home.as_str(), n.groups.len()), (4242, 0, "/", 0));
    }

    #[test]
    fn explicit_groups() {
        let u = resolve_str("user:staff").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 50));
        assert!(u.groups.is_empty());
        let u = resolve_str("1001:777").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1001, 777, "/srv"));
        let u = resolve_str("5:10").unwrap();
        assert_eq!((u.uid, u.gid), (5, 10));
    }

    #[test]
    fn unknown_names_are_clear_errors() {
        let e = resolve_str("nobody").unwrap_err();
        assert!(e.contains("unable to find user nobody"), "{e}");
        let e = resolve_str("user:nogroup").unwrap_err();
        assert!(e.contains("unable to find group nogroup"), "{e}");
        assert!(resolve_str("99999999999").unwrap_err().contains("not a valid uid"));
        assert!(resolve_str("0:99999999999").unwrap_err().contains("not a valid gid"));
    }
}

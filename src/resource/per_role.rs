//! `PerRole`: one value per host of a profile, keyed by its role.

use super::Role;
use serde::Serialize;

/// At most one value per role: the facts of each host, its desired state, its plan, its connection. A role
/// may be absent (a method without a forwarding server, an offline plan without facts). Iteration is over
/// the values, always in `Role::ALL` order (the server first), so plans list hosts in the same order;
/// `entries` pairs each value with its role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerRole<T> {
    slots: [Option<T>; 2],
}

impl<T> Default for PerRole<T> {
    fn default() -> Self {
        PerRole {
            slots: [None, None],
        }
    }
}

impl<T> PerRole<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// `self` with `value` for `role` (replacing any earlier one).
    pub fn with(mut self, role: Role, value: T) -> Self {
        self.insert(role, value);
        self
    }

    pub fn insert(&mut self, role: Role, value: T) -> Option<T> {
        self.slots[role.index()].replace(value)
    }

    pub fn get(&self, role: Role) -> Option<&T> {
        self.slots[role.index()].as_ref()
    }

    pub fn get_mut(&mut self, role: Role) -> Option<&mut T> {
        self.slots[role.index()].as_mut()
    }

    /// The value for `role`, leaving the role absent.
    pub fn take(&mut self, role: Role) -> Option<T> {
        self.slots[role.index()].take()
    }

    pub fn contains(&self, role: Role) -> bool {
        self.get(role).is_some()
    }

    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The roles present, in order.
    pub fn roles(&self) -> impl Iterator<Item = Role> + '_ {
        self.entries().map(|(role, _)| role)
    }

    /// The values, in role order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots.iter_mut().flatten()
    }

    /// Each value with its role, in role order.
    pub fn entries(&self) -> impl Iterator<Item = (Role, &T)> {
        Role::ALL
            .into_iter()
            .zip(&self.slots)
            .filter_map(|(role, slot)| Some((role, slot.as_ref()?)))
    }

    pub fn entries_mut(&mut self) -> impl Iterator<Item = (Role, &mut T)> {
        Role::ALL
            .into_iter()
            .zip(&mut self.slots)
            .filter_map(|(role, slot)| Some((role, slot.as_mut()?)))
    }

    pub fn into_entries(self) -> impl Iterator<Item = (Role, T)> {
        Role::ALL
            .into_iter()
            .zip(self.slots)
            .filter_map(|(role, slot)| Some((role, slot?)))
    }

    /// The same roles, each value mapped.
    pub fn map<U>(self, mut f: impl FnMut(Role, T) -> U) -> PerRole<U> {
        self.into_entries()
            .map(|(role, value)| (role, f(role, value)))
            .collect()
    }

    pub fn as_ref(&self) -> PerRole<&T> {
        self.entries().collect()
    }

    pub fn as_mut(&mut self) -> PerRole<&mut T> {
        self.entries_mut().collect()
    }
}

/// The value for a role that must be there (a test's host); panics when it is absent, like a map's index.
impl<T> std::ops::Index<Role> for PerRole<T> {
    type Output = T;

    fn index(&self, role: Role) -> &T {
        self.get(role)
            .unwrap_or_else(|| panic!("no value for the {role}"))
    }
}

impl<T> FromIterator<(Role, T)> for PerRole<T> {
    fn from_iter<I: IntoIterator<Item = (Role, T)>>(iter: I) -> Self {
        let mut per_role = PerRole::new();
        for (role, value) in iter {
            per_role.insert(role, value);
        }
        per_role
    }
}

impl<T> IntoIterator for PerRole<T> {
    type Item = T;
    type IntoIter = std::iter::Flatten<std::array::IntoIter<Option<T>, 2>>;

    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().flatten()
    }
}

impl<'a, T> IntoIterator for &'a PerRole<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Option<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.slots.iter().flatten()
    }
}

/// The values in role order, as a list (the plan's `hosts`: each value names its role itself).
impl<T: Serialize> Serialize for PerRole<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_in_role_order_whatever_the_insertion_order() {
        let both = PerRole::new()
            .with(Role::Workstation, "w")
            .with(Role::Server, "s");
        assert_eq!(both.iter().copied().collect::<Vec<_>>(), ["s", "w"]);
        assert_eq!(
            both.entries().map(|(r, v)| (r, *v)).collect::<Vec<_>>(),
            [(Role::Server, "s"), (Role::Workstation, "w")]
        );
        assert_eq!(serde_json::to_string(&both).unwrap(), r#"["s","w"]"#);
    }

    #[test]
    fn a_role_may_be_absent() {
        let workstation_only = PerRole::new().with(Role::Workstation, 1);
        assert_eq!(workstation_only.get(Role::Server), None);
        assert!(!workstation_only.contains(Role::Server));
        assert_eq!(workstation_only.len(), 1);
        assert_eq!(
            workstation_only.roles().collect::<Vec<_>>(),
            [Role::Workstation]
        );
        let doubled = workstation_only.map(|_, v| v * 2);
        assert_eq!(doubled.get(Role::Workstation), Some(&2));
        assert!(PerRole::<u8>::new().is_empty());
    }
}

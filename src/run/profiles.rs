//! Which compose profiles a run enables, and why: those it was given, the
//! test service's own (as `compose run` enables them), and those of every
//! service the run needs that no active profile enables, so that a
//! profile-gated test service and its dependencies start without a flag.
//!
//! Compose enables a service when it has no `profiles:`, or one of them is
//! active; `*` activates every profile on v2 (compose-go #175) and is just a
//! name on v1. A service named on the command line gets its profiles
//! enabled: on v1 always, on v2 only when it is not enabled already. Neither
//! flavor does that for a dependency: v2 says `no such service`, v1 that it
//! "was pulled in as a dependency … but is not enabled by the active
//! profiles". testbed does, except for a dependency that compose v2 lets go
//! missing (`required: false`).

use std::fmt;

use crate::config::ProfilesFrom;
use crate::engine::ComposeFlavor;
use crate::engine::model::Service;

/// Why a profile is in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    Given(ProfilesFrom),
    /// It is one of the test service's.
    TestService(String),
    /// It is one of a service's named with `--services`.
    Chosen(String),
    /// It is one of `service`'s, which `of` depends on.
    Dependency {
        service: String,
        of: String,
    },
}

/// A profile in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub why: Why,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.why {
            Why::Given(from) => write!(f, "{} ({from})", self.name),
            Why::TestService(service) => write!(f, "{} (the test service `{service}`)", self.name),
            Why::Chosen(service) => write!(f, "{} (`{service}`, in --services)", self.name),
            Why::Dependency { service, of } => {
                write!(f, "{} (`{service}`, which `{of}` depends on)", self.name)
            }
        }
    }
}

/// The profiles in force, and whether a service is enabled under them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InForce {
    pub profiles: Vec<Profile>,
    flavor: ComposeFlavor,
}

impl InForce {
    /// Whether compose enables `service` under these profiles.
    pub fn enables(&self, service: &Service) -> bool {
        let all = self.flavor == ComposeFlavor::V2 && self.profiles.iter().any(|p| p.name == "*");
        all || service.profiles.is_empty()
            || service
                .profiles
                .iter()
                .any(|name| self.profiles.iter().any(|p| &p.name == name))
    }

    /// Their names, in the order they came in force.
    pub fn names(&self) -> Vec<String> {
        self.profiles.iter().map(|p| p.name.clone()).collect()
    }

    /// Adds `service`'s profiles, unless on v2 it is enabled already (on
    /// v1, as compose does for a service named on its command line).
    fn target(&mut self, service: &Service, why: Why) {
        if self.flavor == ComposeFlavor::V1 || !self.enables(service) {
            self.add(service, &why);
        }
    }

    fn add(&mut self, service: &Service, why: &Why) {
        for name in &service.profiles {
            if !self.profiles.iter().any(|p| &p.name == name) {
                self.profiles.push(Profile {
                    name: name.clone(),
                    why: why.clone(),
                });
            }
        }
    }
}

/// The profiles a run of `test` against `services` (all of the model's,
/// whatever their profiles) puts in force, given `given` from `from`; with
/// `chosen` the dependencies named by `--services`, else every enabled
/// service.
pub fn resolve(
    services: &[Service],
    test: &str,
    chosen: Option<&[String]>,
    given: (&[String], ProfilesFrom),
    flavor: ComposeFlavor,
) -> InForce {
    let find = |name: &str| services.iter().find(|s| s.name == name);
    let mut in_force = InForce {
        profiles: Vec::new(),
        flavor,
    };
    let (names, from) = given;
    for name in names {
        if !in_force.profiles.iter().any(|p| &p.name == name) {
            in_force.profiles.push(Profile {
                name: name.clone(),
                why: Why::Given(from),
            });
        }
    }
    if let Some(service) = find(test) {
        in_force.target(service, Why::TestService(test.to_string()));
    }
    for name in chosen.unwrap_or_default() {
        if let Some(service) = find(name) {
            in_force.target(service, Why::Chosen(name.clone()));
        }
    }
    // Until every service the run creates, and everything it needs, is
    // enabled: a profile brought in may enable services that need more.
    loop {
        let mut starts: Vec<&str> = vec![test];
        match chosen {
            Some(chosen) => starts.extend(chosen.iter().map(String::as_str)),
            None => starts.extend(
                services
                    .iter()
                    .filter(|s| in_force.enables(s))
                    .map(|s| s.name.as_str()),
            ),
        }
        let missing = needed(services, &starts)
            .into_iter()
            .find(|(service, _)| !in_force.enables(service));
        let Some((service, of)) = missing else {
            return in_force;
        };
        in_force.add(
            service,
            &Why::Dependency {
                service: service.name.clone(),
                of: of.to_string(),
            },
        );
    }
}

/// What `starts` need, directly or not, through dependencies compose
/// requires, each with the service that needs it first.
fn needed<'a>(services: &'a [Service], starts: &[&'a str]) -> Vec<(&'a Service, &'a str)> {
    let mut seen: Vec<&str> = starts.to_vec();
    let mut found = Vec::new();
    let mut i = 0;
    while i < seen.len() {
        let of = seen[i];
        let dependencies = services
            .iter()
            .filter(|s| s.name == of)
            .flat_map(|s| &s.depends_on)
            .filter(|d| d.required);
        for dependency in dependencies {
            let Some(service) = services.iter().find(|s| s.name == dependency.service) else {
                continue;
            };
            if !seen.contains(&service.name.as_str()) {
                seen.push(&service.name);
                found.push((service, of));
            }
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::{Condition, Dependency};

    fn service(name: &str, profiles: &[&str], depends_on: &[&str]) -> Service {
        Service {
            name: name.into(),
            depends_on: depends_on
                .iter()
                .map(|d| Dependency {
                    service: d.trim_end_matches('?').into(),
                    condition: Condition::Started,
                    required: !d.ends_with('?'),
                })
                .collect(),
            profiles: profiles.iter().map(|p| p.to_string()).collect(),
            image: None,
            builds: false,
            healthcheck: None,
        }
    }

    /// `db` always runs; `stub` and `tests` are in `test`; `mock` in
    /// `mocks`, which tests need; `adminer` in `debug`.
    fn model() -> Vec<Service> {
        vec![
            service("adminer", &["debug"], &["db"]),
            service("db", &[], &[]),
            service("mock", &["mocks"], &[]),
            service("stub", &["test"], &[]),
            service("tests", &["test"], &["db", "stub", "mock"]),
        ]
    }

    fn given(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn shown(in_force: &InForce) -> Vec<String> {
        in_force.profiles.iter().map(|p| p.to_string()).collect()
    }

    fn enabled(in_force: &InForce, services: &[Service]) -> Vec<String> {
        services
            .iter()
            .filter(|s| in_force.enables(s))
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn the_test_services_profiles_and_its_dependencies_are_enabled_without_a_flag() {
        let model = model();
        for flavor in [ComposeFlavor::V1, ComposeFlavor::V2] {
            let in_force = resolve(
                &model,
                "tests",
                None,
                (&[], ProfilesFrom::ComposeProfiles),
                flavor,
            );
            assert_eq!(
                shown(&in_force),
                [
                    "test (the test service `tests`)",
                    "mocks (`mock`, which `tests` depends on)"
                ]
            );
            assert_eq!(enabled(&in_force, &model), ["db", "mock", "stub", "tests"]);
        }
    }

    #[test]
    fn given_profiles_come_first_and_bring_their_services_in() {
        let model = model();
        let in_force = resolve(
            &model,
            "tests",
            None,
            (&given(&["debug", "debug"]), ProfilesFrom::Flag),
            ComposeFlavor::V2,
        );
        assert_eq!(in_force.names(), ["debug", "test", "mocks"]);
        assert_eq!(shown(&in_force)[0], "debug (--profile)");
        assert_eq!(
            enabled(&in_force, &model),
            ["adminer", "db", "mock", "stub", "tests"]
        );
    }

    /// v1 enables a named service's profiles even when another one of them
    /// enables it already; v2 does not.
    #[test]
    fn a_test_service_enabled_by_another_profile_follows_each_flavor() {
        let model = vec![
            service("cache", &["test"], &[]),
            service("lint", &["test"], &[]),
            service("tests", &["test", "ci"], &["cache"]),
        ];
        let ci = given(&["ci"]);
        let v1 = resolve(
            &model,
            "tests",
            None,
            (&ci, ProfilesFrom::XTestbed),
            ComposeFlavor::V1,
        );
        assert_eq!(
            shown(&v1),
            ["ci (x-testbed)", "test (the test service `tests`)"]
        );
        assert_eq!(enabled(&v1, &model), ["cache", "lint", "tests"]);
        let v2 = resolve(
            &model,
            "tests",
            None,
            (&ci, ProfilesFrom::XTestbed),
            ComposeFlavor::V2,
        );
        assert_eq!(
            shown(&v2),
            ["ci (x-testbed)", "test (`cache`, which `tests` depends on)"]
        );
        assert_eq!(enabled(&v2, &model), ["cache", "lint", "tests"]);
    }

    #[test]
    fn services_named_with_services_are_enabled_and_the_rest_left_out() {
        let model = model();
        let chosen = given(&["adminer"]);
        let in_force = resolve(
            &model,
            "tests",
            Some(&chosen),
            (&[], ProfilesFrom::Flag),
            ComposeFlavor::V2,
        );
        assert_eq!(
            shown(&in_force),
            [
                "test (the test service `tests`)",
                "debug (`adminer`, in --services)",
                "mocks (`mock`, which `tests` depends on)"
            ]
        );
    }

    #[test]
    fn an_optional_dependency_is_left_to_its_profiles() {
        let model = vec![
            service("mock", &["mocks"], &[]),
            service("tests", &[], &["mock?"]),
        ];
        let in_force = resolve(
            &model,
            "tests",
            None,
            (&[], ProfilesFrom::Flag),
            ComposeFlavor::V2,
        );
        assert!(in_force.profiles.is_empty());
        assert_eq!(enabled(&in_force, &model), ["tests"]);
    }

    #[test]
    fn a_star_is_every_profile_on_v2_and_a_name_on_v1() {
        let model = model();
        let star = given(&["*"]);
        let v2 = resolve(
            &model,
            "db",
            None,
            (&star, ProfilesFrom::ComposeProfiles),
            ComposeFlavor::V2,
        );
        assert_eq!(enabled(&v2, &model).len(), model.len());
        let v1 = resolve(
            &model,
            "db",
            None,
            (&star, ProfilesFrom::ComposeProfiles),
            ComposeFlavor::V1,
        );
        assert_eq!(enabled(&v1, &model), ["db"]);
    }
}

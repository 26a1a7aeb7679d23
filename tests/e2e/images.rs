//! Built images on the real engine, under both flavors: the test image of
//! fixtures/built is named `<prefix>-tests` whatever the run, so reruns
//! reuse the cache and keep one tag; parallel runs share it; `gc` removes a
//! stale one and keeps one that a live run uses. Each test names its images
//! with a prefix of its own (`--image-prefix`): the engine is shared.

use crate::common::engine::{assert_clean, docker, docker_quietly};
use crate::common::{Flavor, RUN_TIMEOUT, SIGNAL_TIMEOUT, START_TIMEOUT, Testbed, per_flavor};

/// The images testbed builds under `prefix`; dropping it removes them.
struct Prefix(String);

impl Prefix {
    /// `tbe2e-<scenario>-<flavor>-<pid>`: also the start of the project
    /// names `Testbed::project(scenario)` gives, so that `tagged` sees the
    /// images compose would have named after a run's project too.
    fn new(scenario: &str, flavor: Flavor) -> Prefix {
        let prefix = format!("tbe2e-{scenario}-{}-{}", flavor.tag(), std::process::id());
        let prefix = Prefix(prefix);
        prefix.remove();
        prefix
    }

    fn image(&self, part: &str) -> String {
        format!("{}{part}-tests", self.0)
    }

    /// Every tag on the engine that starts with the prefix, whoever named
    /// it.
    fn tagged(&self) -> Vec<String> {
        let reference = format!("reference={}*", self.0);
        let format = "{{.Repository}}:{{.Tag}}";
        let mut tags: Vec<String> =
            docker(&["image", "ls", "--filter", &reference, "--format", format])
                .lines()
                .map(str::to_string)
                .collect();
        tags.sort();
        tags
    }

    fn remove(&self) {
        for tag in self.tagged() {
            docker_quietly(&["image", "rm", "-f", &tag]);
        }
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The ids of the images that carry `testbed.image=<name>`, dangling ones
/// included.
fn labelled(name: &str) -> Vec<String> {
    let filter = format!("label=testbed.image={name}");
    let mut ids: Vec<String> = docker(&["image", "ls", "-q", "--no-trunc", "--filter", &filter])
        .lines()
        .map(str::to_string)
        .collect();
    ids.dedup();
    ids
}

/// The layers of an image: the same list means every step came from the
/// same build, or from its cache.
fn layers(image: &str) -> String {
    docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .RootFS.Layers}}",
        image,
    ])
}

/// `image built as <uuid>`, which the tests print: the uuid comes from a
/// build step, so a build from the cache prints the same.
fn built_as(stdout: &str) -> &str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("image built as "))
        .unwrap_or_else(|| panic!("the tests did not say when their image was built:\n{stdout}"))
}

fn built_stack_reruns_reuse_the_cache_and_keep_one_tag(flavor: Flavor) {
    let prefix = Prefix::new("built", flavor);
    let image = prefix.image("");
    let latest = format!("{image}:latest");
    let run = |args: &[&str]| {
        let out = Testbed::fixture("built")
            .flavor(flavor)
            .project("built")
            .args(["--image-prefix", &prefix.0])
            .args(args)
            .output();
        assert_eq!(out.code, Some(0), "{out}");
        assert!(out.stdout.contains("api: hello from api"), "{out}");
        assert_clean(&out.project);
        // One tag, whatever the run's project: compose's own names
        // (`<project>-tests`, `<project>_tests`) start with the prefix too.
        assert_eq!(prefix.tagged(), [latest.as_str()], "{out}");
        // Nothing of an earlier build is left, not even dangling.
        assert_eq!(labelled(&image).len(), 1, "{out}");
        out
    };
    // The first run builds what is missing.
    let first = run(&[]);
    assert!(first.stderr.contains("building tests"), "{first}");
    let built = built_as(&first.stdout).to_string();
    let first_layers = layers(&latest);
    // --build builds again, from the cache: the same step output, the same
    // layers; a new image all the same, labelled with the run that built it.
    let second = run(&["--build"]);
    assert!(second.stderr.contains("building tests"), "{second}");
    assert_eq!(built_as(&second.stdout), built, "{second}");
    assert_eq!(layers(&latest), first_layers, "{second}");
    let id = labelled(&image);
    // Without --build the image is used as it is.
    let third = run(&[]);
    assert!(!third.stderr.contains("building tests"), "{third}");
    assert_eq!(built_as(&third.stdout), built, "{third}");
    assert_eq!(labelled(&image), id, "{third}");
}
per_flavor!(built_stack_reruns_reuse_the_cache_and_keep_one_tag);

/// Four runs at once of a stack whose image is not built yet: each builds
/// under its own tag and runs its tests on its own build; one of them ends
/// up `latest`, and the others go with their runs. Then four at once with
/// --build, from the cache, each replacing `latest` while the others still
/// build from it.
fn parallel_runs_of_a_built_stack_share_its_image(flavor: Flavor) {
    let prefix = Prefix::new("builtpar", flavor);
    let image = prefix.image("");
    for args in [&[][..], &["--build"]] {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                Testbed::fixture("built")
                    .flavor(flavor)
                    .project("builtpar")
                    .args(["--image-prefix", &prefix.0])
                    .args(args)
                    .spawn()
            })
            .collect();
        let outs: Vec<_> = runs.into_iter().map(|r| r.finish(RUN_TIMEOUT)).collect();
        for out in &outs {
            assert_eq!(out.code, Some(0), "{out}");
            assert!(out.stdout.contains("1 passed"), "{out}");
            assert_clean(&out.project);
        }
        assert_eq!(prefix.tagged(), [format!("{image}:latest")], "{args:?}");
        assert_eq!(labelled(&image).len(), 1, "{args:?}");
    }
}
per_flavor!(parallel_runs_of_a_built_stack_share_its_image);

fn gc_removes_a_stale_built_image_and_keeps_one_a_live_run_uses(flavor: Flavor) {
    let prefix = Prefix::new("gcimg", flavor);
    let (stale, live) = (prefix.image("-stale"), prefix.image("-live"));
    let run = |part: &str| {
        Testbed::fixture("built")
            .flavor(flavor)
            .project("gcimg")
            .args([
                "--image-prefix",
                &format!("{}{part}", prefix.0),
                "--ttl",
                "1s",
            ])
    };
    let out = run("-stale").output();
    assert_eq!(out.code, Some(0), "{out}");
    assert_clean(&out.project);
    let live_run = run("-live")
        .command(["sh", "-c", "echo 'tests started'; sleep 300"])
        .spawn();
    live_run.wait_for_stdout("tests started", START_TIMEOUT);
    // Both images are past their TTL of 1 s by now: the live run built its
    // own after the first had finished.
    let testbed = |args: &[&str]| {
        let (subcommand, rest) = args.split_first().unwrap();
        Testbed::new(subcommand).args(rest).output()
    };
    let ls = testbed(&["ls"]);
    assert_eq!(ls.code, Some(0), "{ls}");
    let line = |name: &str| {
        ls.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name}:")))
            .unwrap_or_else(|| panic!("{name} not listed\n{ls}"))
            .to_string()
    };
    assert!(
        line(&live).ends_with("in use  keeps it: a container uses it"),
        "{ls}"
    );
    assert!(
        line(&stale).ends_with("unused  removes it: unused, and its TTL of 1s has passed"),
        "{ls}"
    );
    let gc = testbed(&["gc", "--image-prefix", &prefix.0]);
    assert_eq!(gc.code, Some(0), "{gc}");
    assert_eq!(
        gc.stdout,
        format!("removed image {stale}:latest (unused, and its TTL of 1s has passed)\n"),
        "{gc}"
    );
    assert!(labelled(&stale).is_empty(), "{gc}");
    assert_eq!(labelled(&live).len(), 1, "{gc}");
    live_run.signal(libc::SIGTERM);
    let out = live_run.finish(SIGNAL_TIMEOUT);
    assert_eq!(out.code, Some(143), "{out}");
    assert_clean(&out.project);
    // Its run over, nothing uses it: it goes too.
    let gc = testbed(&["gc", "--image-prefix", &prefix.0]);
    assert_eq!(
        gc.stdout,
        format!("removed image {live}:latest (unused, and its TTL of 1s has passed)\n"),
        "{gc}"
    );
    assert!(prefix.tagged().is_empty(), "{gc}");
}
per_flavor!(gc_removes_a_stale_built_image_and_keeps_one_a_live_run_uses);

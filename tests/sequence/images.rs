//! Built images: a service with `build:` and no `image:` gets the stable
//! name `<prefix>-<service>` (here `tb-work-<service>`, after the directory
//! the fake runs in) and, for the run, its own tag. The newest build is
//! reused under that tag, or a missing one built; `--build` always builds,
//! `--no-build` never does. After a build the image becomes `latest` and the
//! build it replaced is pruned; at the end the run's tag goes.

use crate::support::{Fake, Recorded};
use crate::{Sequence, assert_preflight, compose_argv, is};

/// `db`, and `tests` built from the project's files.
fn built() -> Fake {
    Fake::new().env("FAKE_BUILD", "tests")
}

fn run_tag(run: &Recorded) -> String {
    format!("tb-work-tests:{}", run.project())
}

const LATEST: &str = "tb-work-tests:latest";

/// The question of which run built `latest`.
fn is_builder_asked(call: &crate::support::Call) -> bool {
    is(
        call,
        &[
            "image",
            "inspect",
            "--format",
            "{{index .Config.Labels \"testbed.build\"}}",
            LATEST,
        ],
    )
}

/// The calls that make a build the newest one, and prune the one it
/// replaces when there was one: by the label of the run that built it,
/// which no other build in progress carries.
fn assert_published(seq: &mut Sequence, run: &Recorded, replaced: Option<&str>) {
    let tag = run_tag(run);
    seq.next("which run built `latest`", is_builder_asked);
    seq.next("the run's build tagged `latest`", |c| {
        is(c, &["tag", &tag, LATEST])
    });
    if let Some(builder) = replaced {
        let filter = format!("label=testbed.build={builder}");
        seq.next("the prune of the build it replaced", |c| {
            is(c, &["image", "prune", "--force", "--filter", &filter])
        });
    }
    seq.next("`compose up`", |c| c.is_compose("up"));
}

/// The last call: the run's own tag goes.
fn assert_released(run: &Recorded) {
    let last = run.calls.last().unwrap();
    assert!(
        is(last, &["image", "rm", &run_tag(run)]),
        "the run's tag was not removed last\n{}",
        run.describe()
    );
}

#[test]
fn a_missing_image_is_built_under_the_runs_tag_then_becomes_latest() {
    let run = built().run();
    run.assert_code(0).assert_nothing_left();
    let tag = run_tag(&run);
    let mut seq = Sequence::new(&run);
    assert_preflight(&mut seq, &run);
    seq.next("the newest build looked for under the run's tag", |c| {
        is(c, &["tag", LATEST, &tag])
    });
    seq.next("`compose build tests`", |c| {
        c.argv == compose_argv(&run, &["build", "tests"])
    });
    assert_published(&mut seq, &run, None);
    // The test service runs under that tag, given in the labels override.
    assert!(
        run.only_compose("run").argv.ends_with(&["tests".into()]),
        "{}",
        run.describe()
    );
    assert_released(&run);
    assert_eq!(run.tags, [LATEST], "{}", run.describe());
}

#[test]
fn the_newest_build_is_reused_without_building() {
    let run = built().env("FAKE_IMAGES", LATEST).run();
    run.assert_code(0).assert_no_compose("build");
    let tag = run_tag(&run);
    let mut seq = Sequence::new(&run);
    assert_preflight(&mut seq, &run);
    seq.next("the newest build tagged for the run", |c| {
        is(c, &["tag", LATEST, &tag])
    });
    seq.next("`compose up`", |c| c.is_compose("up"));
    assert_released(&run);
    assert_eq!(run.tags, [LATEST], "{}", run.describe());
}

/// `--build` and `--pull` build whatever is there; the build that was
/// `latest` goes, as nothing holds it: pruned by the label of the run that
/// built it.
#[test]
fn build_and_pull_rebuild_and_the_replaced_build_goes() {
    for (flag, build) in [
        ("--build", &["build", "tests"][..]),
        ("--pull", &["build", "--pull", "tests"]),
    ] {
        let run = built().env("FAKE_IMAGES", LATEST).args(&[flag]).run();
        run.assert_code(0);
        let mut seq = Sequence::new(&run);
        assert_preflight(&mut seq, &run);
        if flag == "--pull" {
            seq.next("`compose pull` of db, which only pulls", |c| {
                c.argv == compose_argv(&run, &["pull", "--ignore-pull-failures", "db"])
            });
        }
        seq.next("`compose build`", |c| c.argv == compose_argv(&run, build));
        assert_published(&mut seq, &run, Some("earlier-run"));
        assert_released(&run);
        assert_eq!(run.tags, [LATEST], "{}", run.describe());
        // Only the new build is left: the one it replaced was pruned.
        assert!(
            run.images.len() == 1 && run.images[0].starts_with("fakeimg-tests-"),
            "{}",
            run.describe()
        );
        assert!(
            run.calls_where(|c| is(c, &["tag", LATEST, &run_tag(&run)]))
                .is_empty(),
            "{}",
            run.describe()
        );
    }
}

#[test]
fn no_build_fails_at_once_naming_a_missing_image_and_starts_nothing() {
    for (build, images, missing) in [
        ("tests", "", LATEST),
        ("tests=app:dev", "", "app:dev"),
        ("tests", "app:dev", LATEST),
    ] {
        let run = Fake::new()
            .env("FAKE_BUILD", build)
            .env("FAKE_IMAGES", images)
            .args(&["--no-build"])
            .run();
        run.assert_code(125)
            .assert_no_compose("build")
            .assert_no_compose("up")
            .assert_no_compose("run")
            .assert_nothing_left();
        let error = run.error_line();
        assert!(
            error.contains("--no-build") && error.contains(missing),
            "{}",
            run.describe()
        );
    }
    let run = built()
        .env("FAKE_IMAGES", LATEST)
        .args(&["--no-build"])
        .run();
    run.assert_code(0).assert_no_compose("build");
}

/// A service with its own `image:` is built and tagged by compose as that
/// image, and only when it is missing or `--build` says so.
#[test]
fn a_service_with_its_own_image_keeps_it() {
    let run = Fake::new().env("FAKE_BUILD", "tests=app:dev").run();
    run.assert_code(0).assert_no_compose("build");
    assert!(
        run.calls_where(|c| c.is_docker("tag") || c.is_docker("image"))
            .is_empty(),
        "{}",
        run.describe()
    );
    let run = Fake::new()
        .env("FAKE_BUILD", "tests=app:dev")
        .args(&["--build"])
        .run();
    run.assert_code(0);
    assert_eq!(run.only_compose("build").compose_args(), ["tests"]);
    assert_eq!(run.tags, ["app:dev"], "{}", run.describe());
}

/// The run's tag goes even when the tests fail, and a failed build leaves
/// no tag and starts nothing.
#[test]
fn the_runs_tag_goes_whatever_the_end() {
    let run = built().env("FAKE_TEST_EXIT", "3").run();
    run.assert_code(3);
    assert_released(&run);
    assert_eq!(run.tags, [LATEST], "{}", run.describe());
    let run = built().env("FAKE_BUILD_EXIT", "1").run();
    run.assert_code(125)
        .assert_no_compose("up")
        .assert_stderr_contains("did not complete successfully")
        .assert_nothing_left();
    assert!(run.tags.is_empty(), "{}", run.describe());
}

"""Hypothesis properties of the CORS evaluator and corrector
(checks.cors_rules): what an operator relies on when they paste the hint."""

from hypothesis import given, settings
from hypothesis import strategies as st

from r2_toolkit.checks.cors_rules import (
    evaluate,
    first_match,
    normalize_origin,
    origin_problem,
    preflight_verdict,
    recommended_rules,
)

ALLOWANCES = ("get", "head", "put", "content_type")
# Rule sets are costly to draw; 60 examples per property keeps the suite fast
# on a shared machine.
scenario_settings = settings(max_examples=60, deadline=None)

label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
hosts = st.lists(label, min_size=1, max_size=3).map(".".join)
ports = st.none() | st.integers(min_value=1, max_value=65535)


@st.composite
def origins(draw):
    """A well-formed origin, as a browser sends it."""
    scheme = draw(st.sampled_from(["http", "https"]))
    port = draw(ports)
    return f"{scheme}://{draw(hosts)}" + (f":{port}" if port is not None else "")


@st.composite
def malformed_origins(draw):
    """A well-formed origin spoilt in one of the ways operators spoil them."""
    origin = draw(origins())
    spoil = draw(st.sampled_from(["slash", "path", "upper", "scheme", "query", "space"]))
    scheme, rest = origin.split("://")
    return {
        "slash": f"{origin}/",
        "path": f"{origin}/{draw(label)}",
        "upper": f"{scheme.upper()}://{rest}",
        "scheme": rest,
        "query": f"{origin}?{draw(label)}=1",
        "space": f" {origin}",
    }[spoil]


def patterns(known):
    """AllowedOrigins entries: origins from ``known``, wildcards, junk."""
    wildcard = hosts.map(lambda h: f"https://*.{h}")
    return st.one_of(st.sampled_from(known), st.just("*"), wildcard, origins(), malformed_origins())


def rule_sets(known):
    rule = st.fixed_dictionaries(
        {
            "AllowedOrigins": st.lists(patterns(known), min_size=1, max_size=3),
            "AllowedMethods": st.lists(
                st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE"]),
                min_size=1,
                max_size=5,
                unique=True,
            ),
        },
        optional={
            "AllowedHeaders": st.lists(
                st.sampled_from(
                    ["*", "content-type", "Content-Type", "x-amz-*", "x-custom", "authorization"]
                ),
                max_size=3,
            ),
            "ExposeHeaders": st.lists(
                st.sampled_from(["ETag", "etag", "x-amz-request-id", "Content-Length"]), max_size=2
            ),
            "MaxAgeSeconds": st.integers(min_value=0, max_value=86400),
        },
    )
    return st.lists(rule, max_size=4)


@st.composite
def scenarios(draw):
    """(configured origins, the bucket's rules) that may or may not fit."""
    configured = draw(st.lists(origins() | malformed_origins(), min_size=1, max_size=3))
    return configured, draw(rule_sets(configured))


def allowances(rules, origin):
    result = evaluate(rules, origin)
    return {name: result[name] for name in ALLOWANCES}


@scenario_settings
@given(scenarios())
def test_the_corrected_rules_let_every_origin_get_and_upload(scenario):
    configured, rules = scenario
    corrected = recommended_rules(rules, configured)
    for origin in configured:
        if normalize_origin(origin) is None:
            continue  # nothing a browser would send; origins_wellformed reports it
        result = evaluate(corrected, origin)
        assert all(result[name] for name in (*ALLOWANCES, "etag_exposed")), (origin, corrected)


@scenario_settings
@given(scenarios(), origins())
def test_the_correction_never_takes_an_allowance_away(scenario, other):
    configured, rules = scenario
    corrected = recommended_rules(rules, configured)
    for origin in [*configured, other]:
        if origin_problem(origin):
            continue
        before, after = allowances(rules, origin), allowances(corrected, origin)
        assert all(after[name] for name in ALLOWANCES if before[name]), (origin, corrected)


@scenario_settings
@given(scenarios())
def test_the_correction_is_stable(scenario):
    configured, rules = scenario
    corrected = recommended_rules(rules, configured)
    assert recommended_rules(corrected, configured) == corrected
    given_origins = {o for rule in rules for o in rule["AllowedOrigins"]}
    for rule in corrected:  # repaired, or left exactly as the operator wrote it
        for origin in rule["AllowedOrigins"]:
            assert origin_problem(origin, pattern=True) is None or origin in given_origins


@scenario_settings
@given(scenarios(), st.randoms())
def test_what_is_allowed_does_not_depend_on_rule_order(scenario, random):
    configured, rules = scenario
    shuffled = list(rules)
    random.shuffle(shuffled)
    for origin in configured:
        assert allowances(rules, origin) == allowances(shuffled, origin)


@scenario_settings
@given(scenarios(), rule_sets(["https://unrelated.example"]))
def test_adding_rules_never_removes_an_allowance(scenario, extra):
    configured, rules = scenario
    for origin in configured:
        before, after = evaluate(rules, origin), evaluate(rules + extra, origin)
        assert all(after[name] for name in ALLOWANCES if before[name])
        # The upload's ETag is read from the rule that serves the PUT: where no
        # rule did, a later PUT rule that exposes nothing rightly turns it off.
        if before["put"] and before["etag_exposed"]:
            assert after["etag_exposed"]


@given(origins())
def test_a_wildcard_origin_rule_serves_any_origin(origin):
    rules = [
        {
            "AllowedOrigins": ["*"],
            "AllowedMethods": ["GET", "HEAD", "PUT"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["etag"],
        }
    ]
    result = evaluate(rules, origin)
    assert result["problems"] == []
    assert all(result[name] for name in (*ALLOWANCES, "etag_exposed"))


@given(malformed_origins())
def test_malformed_origins_are_always_flagged(origin):
    assert origin_problem(origin)
    assert evaluate([], origin)["problems"][0].startswith(f"the origin {origin!r} ")
    repaired = normalize_origin(origin)
    assert repaired is None or origin_problem(repaired) is None


@given(origins())
def test_well_formed_origins_pass_and_stay_as_they_are(origin):
    assert origin_problem(origin) is None
    assert normalize_origin(origin) == origin


@given(st.text(max_size=40))
def test_any_text_as_an_origin_gets_a_sentence_not_an_exception(text):
    problem = origin_problem(text)
    assert problem is None or isinstance(problem, str)
    repaired = normalize_origin(text)
    assert repaired is None or origin_problem(repaired) is None


@scenario_settings
@given(scenarios())
def test_a_server_that_answers_from_the_rules_agrees_with_the_evaluation(scenario):
    # A model S3 server: answers a preflight the way S3 does from the first
    # matching rule; a browser reading that answer must reach the verdict
    # the evaluator predicts.
    configured, rules = scenario
    for origin in configured:
        if origin_problem(origin):
            continue
        expected = evaluate(rules, origin)
        status, headers = model_preflight(rules, origin)
        allowed, _ = preflight_verdict(status, headers, origin)
        assert allowed == (expected["put"] and expected["content_type"])


def model_preflight(rules, origin):
    rule = first_match(rules, origin, "PUT", ("content-type",))
    if rule is None:
        return 403, {}
    return 200, {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": ", ".join(rule["AllowedMethods"]),
        "Access-Control-Allow-Headers": "content-type",
    }

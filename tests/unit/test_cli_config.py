"""The client's configuration as wsk reads it: the property file's format, the order of sources, the exit codes,
``--verbose``'s transcript and shell completion."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner

from app.cli import wskprops
from app.cli.client import ApiClient, ClientError, tls_verify
from app.cli.clientconfig import ConfigError, resolve
from app.cli.exits import EXIT_NETWORK, CommandFailed, http_exit_code
from app.cli.main import cli
from app.cli.verbkit import explain
from app.cli.verbose import BODY_LIMIT, MASK, Printer
from config import load_settings
from config.settings import ClientSettings

pytestmark = pytest.mark.unit

# Variables a developer's shell may hold, which would otherwise leak into the CLI runs below.
CLEAN = {name: None for name in ("SQUALL_CLIENT_APIHOST", "SQUALL_CLIENT_AUTH", "WHISK_APIHOST", "WHISK_AUTH",
                                 "WSK_CONFIG_FILE", "SQUALL_CONFIG")}


# -- the file's format ----------------------------------------------------------------------------------------------


def test_parse_reads_wsk_lines() -> None:
    text = ("# a comment\n"
            "\n"
            "APIHOST=https://example.org  # where\n"
            "AUTH=uuid:key\n"
            "  NAMESPACE = spaced  \n"
            "APIGW_ACCESS_TOKEN=abc==\n"  # '=' inside a value is kept
            "no equals sign\n"
            "=no key\n"
            "apihost=lowercase is another key\n"
            "AUTH=later:wins\n")
    assert wskprops.parse(text) == {
        "APIHOST": "https://example.org",
        "AUTH": "later:wins",
        "NAMESPACE": "spaced",
        "APIGW_ACCESS_TOKEN": "abc==",
        "apihost": "lowercase is another key",
    }


def test_render_changes_only_what_it_is_asked_to() -> None:
    text = "# mine\nFOO=bar\nAUTH=old:one\nAPIHOST=x\nAUTH=dup:licate\n"
    out = wskprops.render(text, {"AUTH": "new:key", "APIVERSION": "v1"}, ["APIHOST"])
    assert out == "# mine\nFOO=bar\nAUTH=new:key\nAPIVERSION=v1\n"
    assert wskprops.parse(out)["AUTH"] == "new:key"
    assert wskprops.render("", {"A": "1"}) == "A=1\n"
    assert wskprops.render("A=1", {}, ["A"]) == ""


@pytest.mark.parametrize("value", ["a#b", "line\nbreak", " padded"])
def test_values_wsk_could_not_read_back_are_refused(value: str) -> None:
    with pytest.raises(wskprops.PropsError):
        wskprops.render("", {"AUTH": value})


def test_update_writes_mode_0600_and_keeps_a_symbolic_link(tmp_path: Path) -> None:
    real = tmp_path / "real.props"
    real.write_text("FOO=bar\n")
    real.chmod(0o644)
    link = tmp_path / ".wskprops"
    link.symlink_to(real)
    wskprops.update(link, {"AUTH": "u:k"})
    assert link.is_symlink()
    assert real.read_text() == "FOO=bar\nAUTH=u:k\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    fresh = tmp_path / "new.props"
    wskprops.update(fresh, {"APIHOST": "h"})
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".wskprops", "new.props", "real.props"]  # no leftovers


def test_unreadable_and_unwritable_files_are_errors(tmp_path: Path) -> None:
    assert wskprops.read(tmp_path / "missing") == {}  # as wsk: defaults
    assert wskprops.read(None) == {}
    with pytest.raises(wskprops.PropsError, match="cannot read"):
        wskprops.read(tmp_path)  # a directory
    with pytest.raises(wskprops.PropsError, match="cannot write"):
        wskprops.update(tmp_path / "no" / "dir" / "props", {"A": "1"})
    with pytest.raises(wskprops.PropsError, match="WSK_CONFIG_FILE"):
        wskprops.update(None, {"A": "1"})


# -- the order of sources -------------------------------------------------------------------------------------------


def _client_settings(environ: dict[str, str]) -> ClientSettings:
    return load_settings(environ=environ).client


def test_flag_over_environment_over_file_over_default(tmp_path: Path) -> None:
    props = tmp_path / "props"
    props.write_text("APIHOST=http://file:1\nAUTH=file:key\nNAMESPACE=ns\nAPIVERSION=v1\nCERT=c.pem\n")
    env = {"WSK_CONFIG_FILE": str(props)}

    from_file = resolve(_client_settings(env))
    assert (from_file.apihost, from_file.auth, from_file.namespace, from_file.cert) == \
        ("http://file:1", "file:key", "ns", "c.pem")
    assert from_file.source("auth") == f"AUTH in {props}"

    from_env = resolve(_client_settings({**env, "SQUALL_CLIENT_APIHOST": "http://env:1", "WHISK_AUTH": "whisk:key"}))
    assert (from_env.apihost, from_env.auth) == ("http://env:1", "whisk:key")
    assert "SQUALL_CLIENT_APIHOST" in from_env.source("apihost")

    squall_first = resolve(_client_settings({**env, "SQUALL_CLIENT_AUTH": "squall:key", "WHISK_AUTH": "whisk:key"}))
    assert squall_first.auth == "squall:key"

    from_flags = resolve(_client_settings({**env, "SQUALL_CLIENT_APIHOST": "http://env:1"}),
                         apihost="http://flag:1", auth="flag:key")
    assert (from_flags.apihost, from_flags.auth) == ("http://flag:1", "flag:key")
    assert from_flags.source("auth") == "--auth"

    defaults = resolve(_client_settings({"WSK_CONFIG_FILE": str(tmp_path / "none")}))
    assert (defaults.apihost, defaults.auth, defaults.namespace, defaults.apiversion) == \
        ("http://127.0.0.1:3233", "", "_", "v1")
    assert defaults.source("apihost") == "the default"


def test_home_wskprops_unless_wsk_config_file_says_otherwise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".wskprops").write_text("AUTH=home:key\n")
    assert resolve(_client_settings({})).auth == "home:key"
    assert resolve(_client_settings({})).props_path == tmp_path / ".wskprops"
    empty = resolve(_client_settings({"WSK_CONFIG_FILE": ""}))  # set but empty: no file at all, as wsk
    assert empty.auth == "" and empty.props_path is None


def test_a_key_that_is_not_uuid_colon_key_names_its_source(tmp_path: Path) -> None:
    props = tmp_path / "props"
    props.write_text("AUTH=justakey\n")
    with pytest.raises(ConfigError, match=f"AUTH in {props}"):
        resolve(_client_settings({"WSK_CONFIG_FILE": str(props)}))


# -- exit codes and messages ----------------------------------------------------------------------------------------


def test_http_errors_exit_with_status_minus_256() -> None:
    assert [http_exit_code(s) for s in (400, 401, 403, 404, 409, 429, 500, 502)] == \
        [144, 145, 147, 148, 153, 173, 244, 246]
    assert ClientError(404, "gone").exit_code == 148
    assert ClientError(0, "bad name").exit_code == 1


def _answering(status: int, body: object) -> ApiClient:
    return ApiClient("http://controller", "u:k",
                     transport=httpx.MockTransport(lambda request: httpx.Response(status, json=body)))


def test_messages_carry_the_code_and_advice() -> None:
    config = resolve(_client_settings({"WSK_CONFIG_FILE": ""}), auth="u:k")
    with _answering(404, {"error": "The requested resource does not exist.", "code": "abc"}) as api, \
            pytest.raises(ClientError) as missing:
        api.get_action("x")
    assert missing.value.message == "The requested resource does not exist. (code abc)"
    assert missing.value.exit_code == 148
    with _answering(401, {"error": "The supplied authentication is invalid", "code": "c1"}) as api, \
            pytest.raises(ClientError) as rejected:
        api.list_actions()
    assert explain(rejected.value, config) == ("The supplied authentication is invalid (code c1). The key came from "
                                               "--auth: check it, or store another with `squall property set "
                                               "--auth UUID:KEY`.")
    unreachable = ClientError(0, "Could not reach the controller at http://h.", EXIT_NETWORK)
    assert "The API host came from the default" in explain(unreachable, config)


def test_a_configured_namespace_stands_for_underscore() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=[])
    with ApiClient("http://controller", "u:k", transport=httpx.MockTransport(answer), namespace="team") as api:
        api.list_actions()
        api.get_action("/other/a")
        api.list_activations()
    assert seen == ["/api/v1/namespaces/team/actions", "/api/v1/namespaces/other/actions/a",
                    "/api/v1/namespaces/team/activations"]


def test_tls_verify_follows_insecure_and_the_client_certificate(tmp_path: Path) -> None:
    assert tls_verify() is True and tls_verify(insecure=True) is False
    with pytest.raises(ClientError, match="Cannot load the client certificate") as failed:
        tls_verify(cert=str(tmp_path / "none.pem"), key=str(tmp_path / "none.key"))
    assert failed.value.exit_code == 1


def test_command_failed_prints_error_and_exits_with_its_code() -> None:
    @click.command()
    def failing() -> None:
        raise CommandFailed("it broke", 148)
    done = CliRunner().invoke(failing, [])
    assert done.exit_code == 148 and done.output == "error: it broke\n"


def test_usage_errors_exit_1_as_in_wsk() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["action", "get", "x", "--no-such-flag"], env=CLEAN).exit_code == 1
    assert runner.invoke(cli, ["--no-such-flag", "action", "list"], env=CLEAN).exit_code == 1
    assert runner.invoke(cli, ["action", "get"], env=CLEAN).exit_code == 1  # a missing argument
    assert runner.invoke(cli, ["no-such-verb"], env=CLEAN).exit_code == 1


# -- property verbs, offline ----------------------------------------------------------------------------------------


def test_property_set_unset_and_get(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {**CLEAN, "HOME": str(tmp_path)}
    done = runner.invoke(cli, ["property", "set", "--apihost", "http://127.0.0.1:9", "--auth", "u:k",
                               "--apiversion", "v1"], env=env)
    assert done.exit_code == 0, done.output
    assert done.output == ("ok: whisk auth set. Run 'squall property get --auth' to see the new value.\n"
                           "ok: whisk API host set to http://127.0.0.1:9\n"
                           "ok: whisk API version set to v1\n")
    props = tmp_path / ".wskprops"
    assert wskprops.read(props) == {"AUTH": "u:k", "APIHOST": "http://127.0.0.1:9", "APIVERSION": "v1"}
    assert stat.S_IMODE(props.stat().st_mode) == 0o600

    assert runner.invoke(cli, ["property", "get", "--auth", "-o", "raw"], env=env).output == "u:k\n"
    got = runner.invoke(cli, ["property", "get", "--apihost", "--apiversion", "--cliversion"], env=env)
    assert got.exit_code == 0
    lines = got.output.splitlines()
    assert lines[0] == "whisk API host\t\thttp://127.0.0.1:9"
    assert lines[1].startswith("whisk CLI version\t") and lines[2] == "whisk API version\tv1"

    unset = runner.invoke(cli, ["property", "unset", "--auth", "--apiversion"], env=env)
    assert unset.output == ("ok: whisk auth unset.\n"
                            "ok: whisk API version unset; the default value of v1 will be used.\n")
    assert wskprops.read(props) == {"APIHOST": "http://127.0.0.1:9"}


def test_property_set_refuses_what_would_break_the_file(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {**CLEAN, "HOME": str(tmp_path)}
    assert runner.invoke(cli, ["property", "set"], env=env).exit_code == 1
    for args in (["--auth", "nocolon"], ["--auth", "a:b#c"], ["--apihost", "http://"]):
        done = runner.invoke(cli, ["property", "set", *args], env=env)
        assert done.exit_code == 1 and done.output.startswith("error: "), (args, done.output)
    assert not (tmp_path / ".wskprops").exists()


def test_property_get_all_says_unknown_build_when_the_server_is_down(tmp_path: Path) -> None:
    env = {**CLEAN, "HOME": str(tmp_path), "SQUALL_CLIENT_APIHOST": "http://127.0.0.1:9"}
    done = CliRunner().invoke(cli, ["property", "get"], env=env)
    titles = [line.split("\t")[0] for line in done.output.splitlines() if "\t" in line]
    assert titles == ["whisk API host", "whisk auth", "whisk namespace", "client cert", "Client key",
                      "whisk API version", "whisk CLI version", "whisk API build", "whisk API build number"]
    assert "whisk API build\t\tUnknown" in done.output
    assert done.exit_code == EXIT_NETWORK and "Unable to obtain API build information" in done.output


def test_global_flags_before_the_verb_reach_it(tmp_path: Path) -> None:
    env = {**CLEAN, "HOME": str(tmp_path)}
    done = CliRunner().invoke(cli, ["-v", "--apihost", "http://127.0.0.1:9", "-u", "u:secretkey", "action", "list"],
                              env=env)
    assert done.exit_code == EXIT_NETWORK
    assert "[GET]\thttp://127.0.0.1:9/api/v1/namespaces/_/actions" in done.output
    assert "secretkey" not in done.output and f"Basic {MASK}" in done.output
    assert "came from --apihost" in done.output


# -- --verbose ------------------------------------------------------------------------------------------------------


def test_verbose_prints_the_exchange_with_the_key_masked() -> None:
    lines: list[str] = []
    printer = Printer(lines.append, "uuid:topsecretkey", full=False)
    transport = httpx.MockTransport(lambda request: httpx.Response(404, json={"error": "x" * 2000}))
    with ApiClient("http://controller", "uuid:topsecretkey", transport=transport, event_hooks=printer.hooks()) as api, \
            pytest.raises(ClientError):
        api.put_entity("triggers", "t", {"annotations": [], "authKey": "uuid:topsecretkey"})
    text = "\n".join(lines)
    assert "topsecretkey" not in text
    assert lines[:2] == ["REQUEST:", "[PUT]\thttp://controller/api/v1/namespaces/_/triggers/t?overwrite=false"]
    headers = json.loads(lines[3][:lines[3].rindex("}") + 1])
    assert headers["Authorization"] == [f"Basic {MASK}"]
    assert lines[4] == "Req Body" and json.loads(lines[5])["authKey"] == MASK
    assert "Got response with code 404" in lines
    assert f"Body exceeds {BODY_LIMIT} bytes and will be truncated" in lines
    assert lines[-1].endswith("...") and len(lines[-1]) == BODY_LIMIT + 3


# -- shell completion -----------------------------------------------------------------------------------------------


def test_bash_completion_script_and_words() -> None:
    runner = CliRunner()
    script = runner.invoke(cli, [], prog_name="squall", env={**CLEAN, "_SQUALL_COMPLETE": "bash_source"})
    assert script.exit_code == 0
    assert "_squall_completion()" in script.output and "complete -o nosort -F _squall_completion squall" \
        in script.output
    words = runner.invoke(cli, [], prog_name="squall", env={
        **CLEAN, "_SQUALL_COMPLETE": "bash_complete", "COMP_WORDS": "squall prop", "COMP_CWORD": "1"})
    assert words.output.split() == ["plain,property"]


def test_settings_name_wsk_config_file(tmp_path: Path) -> None:
    assert load_settings(environ={}).client.config_file == "~/.wskprops"
    assert load_settings(environ={"WSK_CONFIG_FILE": str(tmp_path)}).client.config_file == str(tmp_path)
    assert load_settings(environ={"WHISK_APIHOST": "", "SQUALL_CLIENT_APIHOST": ""}).client.apihost == ""

"""Settings.from_env: safe defaults for the embedded mode; a bad value stops start-up, naming its variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import DEMO_AES_KEY, REAL_WECOM_API, Settings, SettingsError


def test_defaults_run_embedded_on_sqlite_under_var_in_beijing_time():
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///var/ztc.sqlite3"
    assert settings.redis_url is None  # the embedded Redis-compatible server
    assert settings.tz == "Asia/Shanghai" and str(settings.zone) == "Asia/Shanghai"
    assert settings.var_dir == Path("var")
    assert settings.wecom_api_base == REAL_WECOM_API
    assert settings.wecom_agent_id == 1000002 and settings.per_member_per_minute == 30


def test_empty_values_fall_back_to_the_defaults():
    settings = Settings.from_env({"DATABASE_URL": "", "REDIS_URL": "", "TZ": "", "WECOM_AGENT_ID": ""})
    assert settings.database_url == "sqlite:///var/ztc.sqlite3"
    assert settings.redis_url is None and settings.tz == "Asia/Shanghai"
    assert settings.wecom_agent_id == 1000002


def test_the_sqlite_file_follows_the_var_dir():
    settings = Settings.from_env({"ZTC_VAR_DIR": "/srv/ztc"})
    assert settings.database_url == "sqlite:////srv/ztc/ztc.sqlite3"
    assert settings.var_dir == Path("/srv/ztc")


def test_values_from_the_environment_are_used():
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql+psycopg://ztc@db/ztc",
            "REDIS_URL": "redis://cache:6379/0",
            "WECOM_AGENT_ID": "1000005",
            "ZTC_LOG_LEVEL": "debug",
        }
    )
    assert settings.database_url == "postgresql+psycopg://ztc@db/ztc"
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.wecom_agent_id == 1000005 and settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    "name, value",
    [
        ("WECOM_AES_KEY", DEMO_AES_KEY[:-1]),
        ("WECOM_AES_KEY", DEMO_AES_KEY + "H"),
        ("WECOM_AGENT_ID", "1000002a"),
        ("WECOM_AGENT_ID", "一百万"),
        ("ZTC_MAX_BODY_BYTES", "64k"),
        ("ZTC_MAX_BODY_BYTES", "100"),
        ("ZTC_PER_MEMBER_PER_MINUTE", "thirty"),
        ("TZ", "Mars/Olympus_Mons"),
        ("TZ", "Beijing"),
        ("WECOM_API_BASE", "qyapi.weixin.qq.com/cgi-bin/"),
        ("WECOM_API_BASE", "ftp://qyapi.weixin.qq.com/cgi-bin/"),
        ("WECOM_TOKEN", ""),
        ("ZTC_PROJECT_PROMPT_DAY", "someday"),
        ("ZTC_PROJECT_PROMPT_TIME", "9点"),
        ("ZTC_PROJECT_PROMPT_TIME", "16:00"),  # after the reminder
        ("ZTC_PROJECT_DEADLINE_TIME", "24:00"),
        ("ZTC_PROJECT_YELLOW_POINTS", "40"),  # above the red threshold
        ("ZTC_PROJECT_RED_POINTS", "many"),
        ("ZTC_PROJECT_STALL_WEEKS", "0"),
        ("ZTC_PROJECT_SUPERVISE_WEEKS", "99"),
        ("ZTC_PROJECT_MONTHLY_DUE_DAY", "31"),
        ("ZTC_PROJECT_MONTHLY_REMIND_DAYS", "15,25"),  # after the due day
        ("ZTC_PROJECT_MONTHLY_REMIND_DAYS", "十五"),
    ],
)
def test_a_bad_value_raises_settings_error_naming_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_settings_error_is_a_value_error_for_callers_that_catch_those():
    with pytest.raises(ValueError, match="WECOM_AGENT_ID"):
        Settings.from_env({"WECOM_AGENT_ID": "x"})


def test_the_error_message_shows_the_bad_value_but_never_the_secret():
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"WECOM_SECRET": "s3cr3t-value", "WECOM_AGENT_ID": "abc"})
    assert "'abc'" in str(err.value) and "s3cr3t-value" not in str(err.value)


@pytest.mark.parametrize(
    "given, expected",
    [
        ("http://127.0.0.1:8990/cgi-bin", "http://127.0.0.1:8990/cgi-bin/"),
        ("https://qyapi.weixin.qq.com/cgi-bin/", "https://qyapi.weixin.qq.com/cgi-bin/"),
    ],
)
def test_the_api_base_always_ends_in_a_slash(given, expected):
    assert Settings.from_env({"WECOM_API_BASE": given}).wecom_api_base == expected


def test_settings_are_frozen_and_with_makes_a_changed_copy():
    settings = Settings.from_env({})
    changed = settings.with_(per_member_per_minute=3)
    assert changed.per_member_per_minute == 3 and settings.per_member_per_minute == 30
    with pytest.raises(AttributeError):
        settings.tz = "UTC"  # type: ignore[misc]


def test_from_env_reads_the_process_environment_when_given_nothing(monkeypatch):
    monkeypatch.setenv("WECOM_AGENT_ID", "1000009")
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    assert Settings.from_env().wecom_agent_id == 1000009


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_per_member_limit_below_one_is_refused(value):
    with pytest.raises(SettingsError, match="ZTC_PER_MEMBER_PER_MINUTE"):
        Settings.from_env({"ZTC_PER_MEMBER_PER_MINUTE": value})


def test_serving_roles_refuse_the_public_demo_secrets_against_the_real_wecom():
    from bot.settings import require_real_secrets

    with pytest.raises(SettingsError, match="WECOM_TOKEN"):
        require_real_secrets(Settings.from_env({}))
    standin = Settings.from_env({"WECOM_API_BASE": "http://127.0.0.1:8401/cgi-bin/"})
    require_real_secrets(standin)  # the local stand-in may use them


# ---------------------------------------------------------------- the 智能机器人 (AI bot)

REAL_APP = {"WECOM_TOKEN": "realToken", "WECOM_AES_KEY": "R" * 43, "WECOM_SECRET": "real-secret"}


def test_the_ai_bot_defaults_to_the_demo_placeholders_so_the_demo_has_group_chats():
    settings = Settings.from_env({})
    assert settings.aibot_enabled and settings.aibot_aes_key == DEMO_AES_KEY


def test_an_ai_bot_of_its_own_is_used():
    settings = Settings.from_env({"AIBOT_TOKEN": "botToken", "AIBOT_AES_KEY": "B" * 43})
    assert (settings.aibot_token, settings.aibot_aes_key) == ("botToken", "B" * 43)


def test_both_empty_means_the_county_has_no_ai_bot():
    assert not Settings.from_env({"AIBOT_TOKEN": "", "AIBOT_AES_KEY": ""}).aibot_enabled


@pytest.mark.parametrize(
    "env",
    [
        {"AIBOT_AES_KEY": DEMO_AES_KEY[:-1]},
        {"AIBOT_AES_KEY": "!" * 43},
        {"AIBOT_TOKEN": "botToken", "AIBOT_AES_KEY": ""},
        {"AIBOT_TOKEN": ""},
    ],
    ids=["short-key", "not-base64", "key-missing", "token-missing"],
)
def test_a_bad_ai_bot_setting_is_refused_naming_it(env):
    with pytest.raises(SettingsError, match="AIBOT_"):
        Settings.from_env(env)


def test_serving_roles_refuse_the_demo_ai_bot_secrets_against_the_real_wecom():
    from bot.settings import require_real_secrets

    with pytest.raises(SettingsError, match="AIBOT_TOKEN"):
        require_real_secrets(Settings.from_env(REAL_APP))
    require_real_secrets(Settings.from_env({**REAL_APP, "AIBOT_TOKEN": "", "AIBOT_AES_KEY": ""}))
    require_real_secrets(
        Settings.from_env({**REAL_APP, "AIBOT_TOKEN": "botToken", "AIBOT_AES_KEY": "B" * 43})
    )


def test_the_project_clock_reads_days_and_times_as_counties_write_them():
    settings = Settings.from_env(
        {
            "ZTC_PROJECT_PROMPT_DAY": "周四",
            "ZTC_PROJECT_PROMPT_TIME": "08:30",
            "ZTC_PROJECT_MONTHLY_REMIND_DAYS": "19，15",
        }
    )
    assert settings.project_prompt_day == 3 and settings.project_prompt_time.isoformat() == "08:30:00"
    assert settings.project_monthly_remind_days == (15, 19)
    assert Settings.from_env({"ZTC_PROJECT_PROMPT_DAY": "Friday"}).project_prompt_day == 4

"""The console in a real browser: Debian's Chromium, driven by Selenium through Debian's
chromedriver. Reads the scenario from stdin (JSON), prints what it saw as JSON, saves screenshots
in the directory it is given. Every step goes through the UI as a person would."""
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

spec = json.load(sys.stdin)
base = spec["base"]
shots = spec["screenshots"]
seen = {}

options = Options()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--window-size=1280,800", "--user-data-dir=" + spec["profile"]]:
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(20)


def shot(name):
    driver.save_screenshot(f"{shots}/{name}.png")


def submit(button):
    """Clicks and waits for the next page, as a person waits for it to load."""
    page = driver.find_element(By.TAG_NAME, "html")
    button.click()

    def gone(_):
        # The old page's element answers until the new page replaces it; Chromium may also
        # report it as belonging to no document while the new one loads.
        try:
            page.is_enabled()
            return False
        except WebDriverException:
            return True

    WebDriverWait(driver, 30).until(gone)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def fill(form_id, values):
    form = driver.find_element(By.ID, form_id)
    for name, value in values.items():
        field = form.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    submit(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def text(css):
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else None


def sign_in(user):
    fill("signin-password", {"account": spec["account"], "user_name": user["user"], "password": user["password"]})


try:
    # Signed out, the console asks for a sign-in.
    started = time.monotonic()
    driver.get(base + "/console")
    seen["first_screen_seconds"] = time.monotonic() - started
    seen["signed_out_path"] = urllib.parse.urlparse(driver.current_url).path
    shot("signin")

    # A wrong password is refused without saying which part was wrong.
    fill("signin-password", {"account": spec["account"], "user_name": spec["admin"]["user"], "password": "wrong-password-1!"})
    seen["wrong_password"] = text("#signin-error")

    # The administrator signs in, creates a user, sees it listed.
    sign_in(spec["admin"])
    seen["after_signin_path"] = urllib.parse.urlparse(driver.current_url).path
    cookie = driver.get_cookie("gatehouse_console")
    seen["cookie"] = {k: cookie.get(k) for k in ("httpOnly", "sameSite", "path", "secure")} if cookie else None
    shot("users")
    fill("create-user", {"user_name": "console-made"})
    seen["create_notice"] = text(".notice")
    driver.get(base + "/console/users?search=console")
    seen["listed"] = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#users td.name")]
    started = time.monotonic()
    driver.get(base + "/console/users")
    seen["users_page_seconds"] = time.monotonic() - started
    seen["users_rows"] = len(driver.find_elements(By.CSS_SELECTOR, "#users tbody tr"))

    # The policy editor: findings next to their lines as the document is checked, the simulator
    # marking the statement that decided, then saved, attached, and the user's decision changes.
    submit(driver.find_element(By.LINK_TEXT, "Policies"))
    submit(driver.find_element(By.ID, "new-policy"))
    editor = driver.find_element(By.ID, "policy-editor")
    editor.find_element(By.NAME, "name").send_keys("reports-read")
    document = editor.find_element(By.NAME, "document")
    document.clear()
    document.send_keys('{\n"Statement": [\n{"Effect": "Allow",\n"Action": "s3:GetObject",\n"Resource": "arn:aws:s3:::reports/*"}\n]\n}')
    # As one types, the findings appear beside their lines (no button pressed).
    try:
        WebDriverWait(driver, 10).until(lambda d: any(
            "MISSING_VERSION" in f.text for f in d.find_elements(By.CSS_SELECTOR, "#numbered .finding")))
        seen["as_you_type"] = True
    except WebDriverException:
        seen["as_you_type"] = False
    submit(driver.find_element(By.CSS_SELECTOR, "button[value=check]"))
    seen["findings"] = [f.text for f in driver.find_elements(By.CSS_SELECTOR, ".finding")]
    seen["finding_lines"] = [li.get_attribute("data-line") for li in driver.find_elements(By.CSS_SELECTOR, "#numbered li")
                             if li.find_elements(By.CSS_SELECTOR, ".finding")]
    document = driver.find_element(By.NAME, "document")
    document.clear()
    document.send_keys('{\n"Version": "2012-10-17",\n"Statement": [\n{"Effect": "Allow",\n"Action": "s3:GetObject",\n"Resource": "arn:aws:s3:::reports/*"}\n]\n}')
    editor = driver.find_element(By.ID, "policy-editor")
    editor.find_element(By.NAME, "action").send_keys("s3:GetObject")
    editor.find_element(By.NAME, "resource").send_keys("arn:aws:s3:::reports/q1.csv")
    submit(driver.find_element(By.ID, "simulate"))
    seen["simulation"] = text("#simulation")
    seen["matched_lines"] = [li.get_attribute("data-line") for li in driver.find_elements(By.CSS_SELECTOR, "#numbered li.matched")]
    seen["findings_after_fix"] = text("#findings-count")
    shot("policy-editor")
    submit(driver.find_element(By.ID, "save"))
    seen["saved"] = text(".notice")
    user = driver.find_element(By.NAME, "user")
    user.clear()
    user.send_keys("console-made")
    submit(driver.find_element(By.ID, "simulate"))
    seen["user_before"] = text("#simulation")
    submit(driver.find_element(By.ID, "attach"))
    seen["attached"] = text(".notice")
    submit(driver.find_element(By.ID, "simulate"))
    seen["user_after"] = text("#simulation")
    submit(driver.find_element(By.ID, "preview-button"))
    seen["preview"] = text("#preview")
    # The simulator's context: a draft allowing one network only, decided from two addresses.
    document = driver.find_element(By.NAME, "document")
    document.clear()
    document.send_keys('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",'
                       ' "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}]}')
    driver.find_element(By.NAME, "user").clear()
    for label, address in [("inside", "203.0.113.7"), ("outside", "198.51.100.1")]:
        context = driver.find_element(By.NAME, "context")
        context.clear()
        context.send_keys("aws:SourceIp = " + address)
        submit(driver.find_element(By.ID, "simulate"))
        seen["context_" + label] = text("#simulation")

    # Deleting a policy still attached is refused with AWS's error.
    submit(driver.find_element(By.ID, "delete-policy"))
    seen["policy_delete"] = text(".notice.refused")

    # A user renamed from its page.
    driver.get(base + "/console/users")
    fill("create-user", {"user_name": "rename-me"})
    driver.get(base + "/console/users/detail?name=rename-me")
    fill("rename", {"new_name": "renamed"})
    seen["renamed"] = text(".notice")
    seen["renamed_title"] = text("h1")

    # A user's page: an access key is created and its secret shown on that answer only.
    driver.get(base + "/console/users?search=console-made")
    submit(driver.find_element(By.LINK_TEXT, "console-made"))
    submit(driver.find_element(By.CSS_SELECTOR, "button[data-intent=create-key]"))
    secret = text("#new-key-secret") or ""
    seen["new_key_id"] = text("#new-key-id")
    seen["secret_length"] = len(secret)
    shot("access-key")
    fill("add-tag", {"tag_key": "team", "tag_value": "payments"})
    seen["tags"] = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#tags li code")]
    fill("set-boundary", {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
    seen["boundary"] = text("#boundary")
    driver.get(base + "/console/users/detail?name=console-made")
    seen["secret_shown_again"] = secret != "" and secret in driver.page_source
    seen["keys_listed"] = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#access-keys td.arn")]

    # The organization: its tree, with each node's SCPs and what it inherits.
    submit(driver.find_element(By.LINK_TEXT, "Organization"))
    seen["org_tree"] = [{
        "kind": node.get_attribute("data-kind"),
        "text": node.text,
        "attached": [p.text for p in node.find_elements(By.CSS_SELECTOR, ".scp.attached")],
        "inherited": [p.text for p in node.find_elements(By.CSS_SELECTOR, ".scp.inherited")],
    } for node in driver.find_elements(By.CSS_SELECTOR, "#org-tree li.node")]
    shot("organization")

    # Groups and roles: created and listed; a group deleted.
    submit(driver.find_element(By.LINK_TEXT, "Groups"))
    fill("create-groups", {"name": "auditors"})
    seen["group_notice"] = text(".notice")
    seen["groups"] = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#groups td.name")]
    # The group's page: a member added and a policy attached, then both undone and the group deleted.
    submit(driver.find_element(By.LINK_TEXT, "auditors"))
    fill("add-member", {"user_name": "console-made"})
    fill("attach-policy", {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
    seen["members"] = [li.text.split(" ")[0] for li in driver.find_elements(By.CSS_SELECTOR, "#members li")]
    seen["group_attached"] = [li.text.split(" ")[0] for li in driver.find_elements(By.CSS_SELECTOR, "#attached li")]
    submit(driver.find_element(By.CSS_SELECTOR, "#members button[data-intent=remove-member]"))
    submit(driver.find_element(By.CSS_SELECTOR, "#attached button[data-intent=detach]"))
    submit(driver.find_element(By.CSS_SELECTOR, "button[data-intent=delete]"))
    seen["groups_after_delete"] = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#groups td.name")]
    submit(driver.find_element(By.LINK_TEXT, "Roles"))
    fill("create-roles", {"name": "ec2-app"})
    seen["roles"] = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#roles td.name")]
    # The role's page: its trust policy changed.
    submit(driver.find_element(By.LINK_TEXT, "ec2-app"))
    trust = driver.find_element(By.ID, "trust_policy")
    trust.clear()
    trust.send_keys('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}')
    submit(driver.find_element(By.CSS_SELECTOR, "#trust button[type=submit]"))
    seen["trust_notice"] = text(".notice")
    seen["trust_now"] = driver.find_element(By.ID, "trust_policy").get_attribute("value")

    # A change without the session's CSRF token is refused, with the session's own cookie.
    session = {"Cookie": "gatehouse_console=" + cookie["value"]} if cookie else {}
    for label, body in [("none", {"user_name": "csrf-victim"}), ("wrong", {"user_name": "csrf-victim", "csrf": "0" * 64})]:
        request = urllib.request.Request(base + "/console/users", data=urllib.parse.urlencode(body).encode(),
                                         headers={**session, "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(request) as response:
                seen[f"csrf_{label}"] = response.status
        except urllib.error.HTTPError as error:
            seen[f"csrf_{label}"] = error.code

    # At a phone's width the list still reads.
    driver.set_window_size(390, 844)
    driver.get(base + "/console/users")
    shot("users-phone")
    driver.set_window_size(1280, 800)

    # Sign out: the cookie is gone and the console asks for a sign-in again.
    driver.get(base + "/console/users")
    submit(driver.find_element(By.ID, "signout"))
    seen["after_signout_path"] = urllib.parse.urlparse(driver.current_url).path
    driver.get(base + "/console/users")
    seen["after_signout_users_path"] = urllib.parse.urlparse(driver.current_url).path
    request = urllib.request.Request(base + "/console/users", headers=session)
    with urllib.request.urlopen(request) as response:
        seen["old_cookie_lands_on"] = urllib.parse.urlparse(response.geturl()).path

    # A read-only user reads, and is refused an edit with AWS's message.
    sign_in(spec["reader"])
    seen["reader_rows"] = len(driver.find_elements(By.CSS_SELECTOR, "#users tbody tr"))
    fill("create-user", {"user_name": "not-allowed"})
    seen["reader_notice"] = text(".notice.refused")
    shot("refused")

    # The refusal is in the audit explorer.
    driver.get(base + "/console/audit")
    form = driver.find_element(By.CSS_SELECTOR, "form.filters")
    form.find_element(By.NAME, "error_code").send_keys("AccessDenied")
    submit(form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    seen["audit_notice"] = text(".notice.refused")
    seen["audit_url"] = driver.current_url
    seen["audit_rows"] = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
                          for row in driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
    shot("audit")
    seen["chart_bars"] = len(driver.find_elements(By.CSS_SELECTOR, ".bars .bar"))
    seen["chart_nonempty"] = len([b for b in driver.find_elements(By.CSS_SELECTOR, ".bars .bar div")
                                  if "h0" not in b.get_attribute("class").split()])
    submit(driver.find_element(By.ID, "live"))
    seen["live_refresh"] = len(driver.find_elements(By.CSS_SELECTOR, "meta[http-equiv=refresh]"))
    seen["live_url"] = driver.current_url

    # A denied decision: found by its decision, its record opened, replayed on the state now.
    driver.get(base + "/console/audit?decision=ImplicitDeny")
    rows = driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr")
    seen["denied_decisions"] = len(rows)
    submit(rows[0].find_element(By.TAG_NAME, "a"))
    seen["record"] = text("#record")
    seen["evaluated"] = [[c.text for c in row.find_elements(By.TAG_NAME, "td")]
                         for row in driver.find_elements(By.CSS_SELECTOR, "#evaluated tbody tr")]
    submit(driver.find_element(By.ID, "replay-now"))
    seen["replayed"] = text("#replayed-decision")
    shot("replay")
    driver.get(base + "/console/audit?resource=" + urllib.parse.quote("arn:aws:s3:::reports/q1.csv", safe=""))
    seen["by_resource"] = len(driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr"))
    driver.get(base + "/console/audit?from=yesterday")
    seen["bad_time"] = text(".notice.refused")
    driver.get(base + "/console/audit?from=2000-01-01T00%3A00&to=2000-01-02T00%3A00")
    seen["old_window"] = len(driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr"))
except Exception as error:
    # What the browser showed when it went wrong, for the test's message and the artifacts.
    shot("failure")
    with open(f"{shots}/failure.html", "w") as page:
        page.write(driver.page_source)
    raise RuntimeError(f"{type(error).__name__} at {driver.current_url}: {error}; seen so far: {json.dumps(seen)}") from error
finally:
    driver.quit()

print(json.dumps(seen))

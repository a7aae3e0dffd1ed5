"""The console in a real browser: Debian's Chromium, driven by Selenium through Debian's
chromedriver. Reads the scenario from stdin (JSON), prints what it saw as JSON, saves screenshots
in the directory it is given. Every step goes through the UI as a person would."""
import http.cookiejar
import json
import re
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


def totp(seed, step):
    """RFC 6238, from the standard library: independent of the server's implementation."""
    import base64, hashlib, hmac, struct
    key = base64.b32decode(seed + "=" * (-len(seed) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000)


def sign_in(user):
    values = {"account": spec["account"], "user_name": user["user"], "password": user["password"]}
    if "mfa_seed" in user:
        # The first step after the two that enabled the device (a code works once).
        values["mfa_code"] = totp(user["mfa_seed"], max(int(time.time()) // 30, user["mfa_step"]))
    fill("signin-password", values)


def post(path, body, headers):
    """A form post from outside the browser; the status it got."""
    request = urllib.request.Request(base + path, data=urllib.parse.urlencode(body).encode(),
                                     headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


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
    # The administrator has an MFA device: the password alone is not enough.
    fill("signin-password", {"account": spec["account"], "user_name": spec["admin"]["user"], "password": spec["admin"]["password"]})
    seen["mfa_missing"] = text("#signin-error")
    # A sign-in form posted without its page's token (login CSRF) is refused.
    seen["signin_without_token"] = post("/console/signin", {"account": spec["account"], "user_name": "reader",
                                                            "password": spec["reader"]["password"]}, {})

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

    # Policies found by name: this account's, and AWS's.
    driver.get(base + "/console/policies?search=REPORTS")
    seen["policies_found"] = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#policies tbody td:first-child")]
    driver.get(base + "/console/policies?scope=AWS&search=iamreadonly")
    seen["aws_policies_found"] = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#policies tbody td:first-child")]

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
    fill("rename", {"new_name": "auditors-eu"})
    seen["group_renamed"] = text("h1")
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

    # The role's description.
    fill("describe", {"description": "Runs the web tier"})
    seen["role_description"] = text("#description")
    # The role's tags and permissions boundary.
    fill("add-tag", {"tag_key": "tier", "tag_value": "web"})
    seen["role_tags"] = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#tags li code")]
    fill("set-boundary", {"policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
    seen["role_boundary"] = text("#boundary")
    # Roles found by part of their name, in any case.
    driver.get(base + "/console/roles?search=EC2")
    seen["roles_found"] = [c.text for c in driver.find_elements(By.CSS_SELECTOR, "#roles td.name")]

    # A change without the session's CSRF token is refused, with the session's own cookie; so is
    # one with the right token posted from another site.
    session = {"Cookie": "gatehouse_console=" + cookie["value"]} if cookie else {}
    seen["csrf_none"] = post("/console/users", {"user_name": "csrf-victim"}, session)
    seen["csrf_wrong"] = post("/console/users", {"user_name": "csrf-victim", "csrf": "0" * 64}, session)
    token = driver.find_element(By.NAME, "csrf").get_attribute("value")
    seen["cross_site"] = post("/console/users", {"user_name": "csrf-victim", "csrf": token},
                              {**session, "Origin": "http://attacker.example"})

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

    # A help-desk user may create users under /helpdesk/ only: the form is there, a user
    # elsewhere is refused with AWS's message, one under its path is made.
    sign_in(spec["helpdesk"])
    fill("create-user", {"user_name": "not-allowed"})
    seen["helpdesk_notice"] = text(".notice.refused")
    shot("refused")
    fill("create-user", {"user_name": "desk-made", "path": "/helpdesk/"})
    seen["helpdesk_made"] = text(".notice")
    submit(driver.find_element(By.ID, "signout"))

    # A read-only user reads, and its screens offer no change.
    sign_in(spec["reader"])
    seen["reader_rows"] = len(driver.find_elements(By.CSS_SELECTOR, "#users tbody tr"))
    seen["reader_create_forms"] = len(driver.find_elements(By.ID, "create-user"))
    seen["reader_note"] = text(".read-only")
    driver.get(base + "/console/users/detail?name=console-made")
    seen["reader_user_forms"] = len(driver.find_elements(By.CSS_SELECTOR, "form[method=post][action='/console/users/detail']"))
    seen["reader_user_policies"] = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#attached li")]
    shot("read-only")
    driver.get(base + "/console/roles/detail?name=ec2-app")
    seen["reader_role_forms"] = len(driver.find_elements(By.CSS_SELECTOR, "form[method=post][action='/console/roles/detail']"))
    seen["reader_role_trust"] = text("pre#trust")
    driver.get(base + "/console/groups")
    seen["reader_group_forms"] = len(driver.find_elements(By.CSS_SELECTOR, "form[method=post][action='/console/groups']"))
    driver.get(base + "/console/policies/edit")
    seen["reader_editor_buttons"] = [b.get_attribute("value") for b in driver.find_elements(By.CSS_SELECTOR, "#policy-editor button")]

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
    submit(driver.find_element(By.ID, "signout"))

    # The root user signs in with an access key pair; a wrong secret is refused first.
    fill("signin-keys", {"access_key_id": spec["root_key"]["id"], "secret_access_key": "x" * 40})
    seen["root_wrong_secret"] = text("#signin-error")
    fill("signin-keys", {"access_key_id": spec["root_key"]["id"], "secret_access_key": spec["root_key"]["secret"]})
    seen["root_signed_in"] = [urllib.parse.urlparse(driver.current_url).path, text(".who .principal")]

    # The credential report: none yet, then generated; the findings marked and filtered.
    submit(driver.find_element(By.LINK_TEXT, "Credentials"))
    seen["report_before"] = text("#report-missing")
    submit(driver.find_element(By.CSS_SELECTOR, "#generate-report button"))
    seen["report_summary"] = text("#report-summary")
    seen["report_rows"] = len(driver.find_elements(By.CSS_SELECTOR, "#credentials tbody tr"))
    shot("credentials")
    submit(driver.find_element(By.ID, "only-findings"))
    seen["report_findings"] = {row.find_element(By.CSS_SELECTOR, "td.name").text:
                               row.find_element(By.CSS_SELECTOR, "td.findings").text.split("\n")
                               for row in driver.find_elements(By.CSS_SELECTOR, "#credentials tbody tr")}
    with urllib.request.urlopen(urllib.request.Request(base + "/console/credentials.csv", headers={
            "Cookie": "gatehouse_console=" + driver.get_cookie("gatehouse_console")["value"]})) as response:
        seen["report_csv_lines"] = len(response.read().decode().splitlines())

    # Key sign-in failures are counted per key: the sixth in a row is throttled.
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/console/signin").read().decode()
    throttled = []
    for _ in range(6):
        token = re.search(r'name="signin_token" value="([0-9a-f]+)"', page).group(1)
        body = urllib.parse.urlencode({"access_key_id": "AKIAEXAMPLEEXAMPLE00", "secret_access_key": "y" * 40,
                                       "signin_token": token}).encode()
        try:
            page = opener.open(base + "/console/signin/keys", data=body).read().decode()
        except urllib.error.HTTPError as error:
            page = error.read().decode()
        throttled.append("Too many failed sign-ins" in page)
    seen["key_throttled"] = throttled
except Exception as error:
    # What the browser showed when it went wrong, for the test's message and the artifacts.
    shot("failure")
    with open(f"{shots}/failure.html", "w") as page:
        page.write(driver.page_source)
    raise RuntimeError(f"{type(error).__name__} at {driver.current_url}: {error}; seen so far: {json.dumps(seen)}") from error
finally:
    driver.quit()

print(json.dumps(seen))

# The guide's onboarding script (shared/seeds/onboarding-guide.md, "Python Script
# (onboard_users.py)"), used by `cargo run --release --example bench` as the baseline.
# Copied verbatim except the configuration block (see the comment there).
import csv
import json
import requests

# -----------------------------------------------
# Configuration — update these values before running
# -----------------------------------------------
# Benchmark copy: this block is the ONLY change from the guide's script. PROXY_URL,
# MASTER_KEY and CSV_FILE come from environment variables (set by examples/bench.rs);
# everything else below is copied verbatim from shared/seeds/onboarding-guide.md.
import os
PROXY_URL   = os.environ["PROXY_URL"]
MASTER_KEY  = os.environ["MASTER_KEY"]
CSV_FILE    = os.environ["CSV_FILE"]
USER_ROLE   = "internal_user"
# -----------------------------------------------

HEADERS = {
    "Authorization": f"Bearer {MASTER_KEY}",
    "Content-Type": "application/json"
}

def create_user(email, team_id):
    """Step 1: Create the user account and assign to a team."""
    url = f"{PROXY_URL}/user/new"
    payload = {
        "user_email": email,
        "user_role": USER_ROLE,
        "teams": [team_id]
    }
    resp = requests.post(url, headers=HEADERS, json=payload)
    resp.raise_for_status()
    data = resp.json()
    user_id = data.get("user_id")
    if not user_id:
        raise ValueError(f"No user_id returned for {email}. Response: {data}")
    return user_id

def create_invitation(user_id):
    """Step 2: Generate an invitation link for the user."""
    url = f"{PROXY_URL}/invitation/new"
    payload = {"user_id": user_id}
    resp = requests.post(url, headers=HEADERS, json=payload)
    resp.raise_for_status()
    data = resp.json()
    invitation_id = data.get("id")
    expires_at = data.get("expires_at")
    if not invitation_id:
        raise ValueError(f"No invitation id returned for user_id {user_id}. Response: {data}")
    return invitation_id, expires_at

def build_onboarding_link(invitation_id):
    """Step 3: Build the onboarding URL to send to the user."""
    return f"{PROXY_URL}/ui/onboarding?id={invitation_id}"

def onboard_users(csv_file):
    results = []
    with open(csv_file, newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            email   = row["user_email"].strip()
            team_id = row["team_id"].strip()
            print(f"Onboarding {email}...")
            try:
                user_id       = create_user(email, team_id)
                inv_id, exp   = create_invitation(user_id)
                link          = build_onboarding_link(inv_id)
                print(f"  ✓ Onboarding link (expires {exp}):\n    {link}\n")
                results.append({
                    "email":           email,
                    "user_id":         user_id,
                    "invitation_id":   inv_id,
                    "expires_at":      exp,
                    "onboarding_link": link,
                    "status":          "success"
                })
            except Exception as e:
                print(f"  ✗ Failed to onboard {email}: {e}\n")
                results.append({
                    "email":  email,
                    "status": "failed",
                    "error":  str(e)
                })

    # Save results to a JSON file for reference
    with open("onboarding_results.json", "w") as out:
        json.dump(results, out, indent=2)
    print("Results saved to onboarding_results.json")

if __name__ == "__main__":
    onboard_users(CSV_FILE)

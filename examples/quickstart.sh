#!/usr/bin/env bash
# The quick start, end to end, against a running service (npm start): two wallets, a deposit
# address, a linked bank account, mint, redeem, transfers both ways, a card issued and frozen, and
# an inbound deposit simulated at the embedded Circle simulator. Prints each step's result and how
# long it took. Needs bash, curl and jq.
#
#   examples/quickstart.sh                      # against http://localhost:3000
#   BASE_URL=http://127.0.0.1:4000 examples/quickstart.sh
#   SIMULATOR_CONTROL_TOKEN=... examples/quickstart.sh   # when the simulator's control routes need a token
set -euo pipefail

U=${BASE_URL:-http://localhost:3000}
BACKEND=${BACKEND_KEY:-dev-backend-key}
ADMIN=${ADMIN_KEY:-dev-admin-key}
WAIT=${PREFER_WAIT:-30}   # Prefer: wait=N holds each answer until the operation is terminal (at most 30 s)

now_ms() { date +%s%3N; }
fail() { echo "quickstart: $*" >&2; exit 1; }

# post PATH JSON -> the answer body; a fresh Idempotency-Key per call, and Prefer: wait.
post() {
  local out status
  out=$(curl -sS -w '\n%{http_code}' -X POST "$U$1" -H "Authorization: Bearer $BACKEND" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $(cat /proc/sys/kernel/random/uuid)" -H "Prefer: wait=$WAIT" -d "$2")
  status=${out##*$'\n'}
  out=${out%$'\n'*}
  [[ $status == 2* ]] || fail "POST $1 answered $status: $out"
  printf '%s' "$out"
}
get() { curl -sSf "$U$1" -H "Authorization: Bearer ${2:-$BACKEND}"; }

# until_status PATH STATUS: polls a resource until it has that status (or fails after 60 s).
until_status() {
  local body deadline=$(( $(date +%s) + 60 ))
  while :; do
    body=$(get "$1")
    [[ $(jq -r .status <<<"$body") == "$2" ]] && { printf '%s' "$body"; return; }
    [[ $(jq -r .status <<<"$body") == failed ]] && fail "$1 failed: $body"
    (( $(date +%s) < deadline )) || fail "$1 is not $2 after 60 s: $body"
    sleep 0.2
  done
}

STEP_STARTED=0
step() { STEP_STARTED=$(now_ms); printf '%-44s' "$1"; }
done_step() { printf '%6s ms  %s\n' "$(( $(now_ms) - STEP_STARTED ))" "$1"; }

step "health"
HEALTH=$(curl -sSf "$U/health" -H "Authorization: Bearer $ADMIN")
done_step "$(jq -c '{status, checks}' <<<"$HEALTH")"

step "create wallet A"
WALLET=$(post /wallets '{"ownerId":"user-42","description":"main"}' | jq -r .id)
WALLET_JSON=$(until_status "/wallets/$WALLET" active)
done_step "$WALLET $(jq -r '.status + " circle " + .circleWalletId' <<<"$WALLET_JSON")"

step "create wallet B"
OTHER=$(post /wallets '{"ownerId":"user-42","description":"savings"}' | jq -r .id)
until_status "/wallets/$OTHER" active >/dev/null
done_step "$OTHER active"

step "deposit address on A (SOL)"
ADDRESS_JSON=$(post /wallets/address "{\"walletId\":\"$WALLET\",\"chain\":\"SOL\"}")
ADDRESS=$(jq -r .id <<<"$ADDRESS_JSON")
ADDRESS_JSON=$(until_status "/wallets/$WALLET/addresses/$ADDRESS" active)
done_step "$(jq -r .address <<<"$ADDRESS_JSON")"

step "link bank account"
BANK=$(post /bank-accounts '{"ownerId":"user-42","accountNumber":"12340010","routingNumber":"121000248",
  "billingDetails":{"name":"Ada Lovelace","line1":"1 Main St","city":"Boston","postalCode":"02201","country":"US","district":"MA"},
  "bankAddress":{"bankName":"Wells Fargo","country":"US"}}' | jq -r .id)
BANK_JSON=$(until_status "/bank-accounts/$BANK" active)
done_step "$BANK $(jq -r '.status + " ****" + .last4' <<<"$BANK_JSON")"

step "mint 100.00 into A"
MINT=$(post /mint "{\"walletId\":\"$WALLET\",\"amount\":\"100.00\"}" | jq -r .id)
until_status "/mints/$MINT" completed >/dev/null
done_step "$MINT completed; A $(get "/wallets/$WALLET" | jq -c .balances)"

step "redeem 40.00 from A to the bank"
REDEEM=$(post /redeem "{\"walletId\":\"$WALLET\",\"bankAccountId\":\"$BANK\",\"amount\":\"40.00\"}" | jq -r .id)
until_status "/redeems/$REDEEM" completed >/dev/null
done_step "$REDEEM completed; A $(get "/wallets/$WALLET" | jq -c .balances)"

step "transfer 10.00 A -> B"
TRANSFER=$(post /transfers "{\"sourceWalletId\":\"$WALLET\",\"destination\":{\"type\":\"wallet\",\"walletId\":\"$OTHER\"},\"amount\":\"10.00\"}" | jq -r .id)
until_status "/transfers/$TRANSFER" completed >/dev/null
done_step "$TRANSFER completed"

step "transfer 2.50 B -> A"
BACK=$(post /transfers "{\"sourceWalletId\":\"$OTHER\",\"destination\":{\"type\":\"wallet\",\"walletId\":\"$WALLET\"},\"amount\":\"2.50\"}" | jq -r .id)
until_status "/transfers/$BACK" completed >/dev/null
done_step "$BACK completed; B $(get "/wallets/$OTHER" | jq -c .balances)"

step "issue a card on A"
CARD=$(post /cards "{\"walletId\":\"$WALLET\",\"cardholderName\":\"Ada Lovelace\"}" | jq -r .id)
CARD_JSON=$(until_status "/cards/$CARD" active)
done_step "$CARD $(jq -r '.status + " " + .network + " ****" + .last4' <<<"$CARD_JSON")"

step "freeze the card"
FROZEN=$(curl -sSf -X POST "$U/cards/$CARD/freeze" -H "Authorization: Bearer $BACKEND" -H 'Content-Type: application/json' -d '{"reason":"lost"}')
[[ $(jq -r .status <<<"$FROZEN") == frozen ]] || fail "freeze answered $FROZEN"
done_step "$(jq -r .status <<<"$FROZEN")"

# The embedded simulator's control URL is in /health details for an admin key.
step "simulate a 5.00 deposit to A"
SIM=$(jq -r '.details.circleSimulatorUrl // empty' <<<"$HEALTH")
SIM_TOKEN=${SIMULATOR_CONTROL_TOKEN:-$(jq -r '.details.circleSimulatorControlToken // empty' <<<"$HEALTH")}
SIM_AUTH=()
[[ -n $SIM_TOKEN ]] && SIM_AUTH=(-H "Authorization: Bearer $SIM_TOKEN")
[[ -n $SIM ]] || fail "no circleSimulatorUrl in /health details: is the service running the embedded simulator (no CIRCLE_API_KEY)?"
BEFORE=$(get "/wallets/$WALLET" | jq -r .balances.available)
CIRCLE_WALLET=$(jq -r .circleWalletId <<<"$WALLET_JSON")
DEPOSIT=$(curl -sSf -X POST "$SIM/sim/deposits" "${SIM_AUTH[@]}" -H 'Content-Type: application/json' -d "{\"walletId\":\"$CIRCLE_WALLET\",\"amount\":\"5.00\",\"chain\":\"SOL\"}" | jq -r .data.id)
deadline=$(( $(date +%s) + 60 ))
until [[ $(get "/wallets/$WALLET" | jq -r .balances.available) != "$BEFORE" ]]; do
  (( $(date +%s) < deadline )) || fail "deposit $DEPOSIT did not reach wallet $WALLET within 60 s"
  sleep 0.2
done
done_step "Circle transfer $DEPOSIT; A $(get "/wallets/$WALLET" | jq -c .balances)"

echo "quickstart: all steps passed"

#!/usr/bin/env bash
# deploy/bctr.bash against the real bctr: the completion function fills COMPREPLY with the
# verbs and flags of the command tree. Usage: completion_test.sh BCTR SOURCE_DIR
set -u
BCTR=$1
source "$2/deploy/bctr.bash"
fail=0

# expect "WORDS..." "WANTED CANDIDATE": completes the last word, checks the candidate is offered.
expect() {
  local words=$1 want=$2
  read -ra COMP_WORDS <<<"$BCTR $words"
  [[ $words == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _bctr
  local c
  for c in "${COMPREPLY[@]}"; do [[ $c == "$want" ]] && return 0; done
  echo "FAIL: 'bctr $words' offers [${COMPREPLY[*]}], not '$want'"
  fail=1
}

# reject "WORDS..." "UNWANTED": the candidate must not be offered.
reject() {
  local words=$1 unwanted=$2
  read -ra COMP_WORDS <<<"$BCTR $words"
  [[ $words == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _bctr
  local c
  for c in "${COMPREPLY[@]}"; do
    [[ $c == "$unwanted" ]] && { echo "FAIL: 'bctr $words' offers '$unwanted'"; fail=1; }
  done
  return 0
}

complete -p bctr >/dev/null || { echo "FAIL: no completion registered for bctr"; exit 1; }
expect "ima" images
expect "images " ls
expect "images " rm
expect "pull --pl" --plain-http
expect "-n other pu" pull
expect "--namespace=other images l" ls
reject "" __complete
reject "images " --plain-http
# Objects come from berthd; with no berthd at this address there are none, and no error.
expect "-a /nonexistent/berthd.sock rmi --" --help
[[ $fail == 0 ]] && echo "completion: all checks passed"
exit $fail

# bash completion for bctr. Install as /usr/share/bash-completion/completions/bctr
# or `source deploy/bctr.bash` in a running shell.
# The candidates come from bctr itself (`bctr __complete WORD...`), so they always match the
# installed verbs and flags, and list containers and images from berthd where a verb takes
# them.

_bctr() {
  local IFS=$'\n'
  local candidates
  candidates=$("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  COMPREPLY=($candidates)
}

complete -o default -F _bctr bctr

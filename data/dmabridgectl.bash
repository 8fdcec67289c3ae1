# SPDX-License-Identifier: MIT
# bash completion for dmabridgectl(1): its options and commands, and the
# screens and connectors of the running dmabridged.

# Add the names `dmabridgectl --json status` gives for key ("name" of
# screens, "id" and "unique_id" of connectors) that start with cur, each
# after prefix. Guests choose their connectors' unique-ids: only names of
# plain characters are offered, and never through compgen -W, which would
# expand them as shell words.
_dmabridgectl_offer_names()
{
	local key=$1 cur=$2 prefix=$3
	if [[ -z ${_dmabridgectl_status+set} ]]; then
		_dmabridgectl_status=$("${ctl[@]}" --json --timeout 1 status 2>/dev/null)
	fi
	local re="\"$key\":[[:space:]]*\"([^\"]*)\"" line name
	while IFS= read -r line; do
		[[ $line =~ $re ]] || continue
		name=${BASH_REMATCH[1]//\\\//\/}
		[[ $name =~ ^[A-Za-z0-9._/@+-]+$ && $prefix$name == "$cur"* ]] &&
			COMPREPLY+=("$prefix$name")
	done <<<"$_dmabridgectl_status"
}

_dmabridgectl()
{
	local cur prev words cword
	_init_completion -n =: || return
	local _dmabridgectl_status

	# dmabridgectl as typed so far (its --socket), and the command after
	# the global options.
	local ctl=("${words[0]}") i cmd="" cmd_at=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--socket)
			ctl+=(--socket "${words[i + 1]}")
			((i++))
			;;
		--timeout) ((i++)) ;;
		-*) ;;
		*)
			cmd=${words[i]}
			cmd_at=$i
			break
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		case $prev in
		--socket) _filedir ;;
		--timeout) ;;
		*)
			if [[ $cur == -* ]]; then
				COMPREPLY=($(compgen -W '--socket --json --timeout --help' -- "$cur"))
			else
				COMPREPLY=($(compgen -W 'status stats screenshot layout reload' -- "$cur"))
			fi
			;;
		esac
		return
	fi

	# The words after the command, this one is argument argn (from 1).
	local argn=$((cword - cmd_at))
	case $cmd in
	stats)
		[[ $argn == 1 ]] && COMPREPLY=($(compgen -W '-w' -- "$cur"))
		;;
	screenshot)
		# [TARGET] FILE: a screen (screen:NAME or NAME) or a connector, or the file.
		if [[ $argn == 1 ]]; then
			_dmabridgectl_offer_names name "$cur" screen:
			_dmabridgectl_offer_names name "$cur" ""
			_dmabridgectl_offer_names id "$cur" ""
			_dmabridgectl_offer_names unique_id "$cur" ""
		fi
		[[ $argn -le 2 ]] && _filedir
		__ltrim_colon_completions "$cur"
		;;
	layout)
		if [[ $argn == 1 ]]; then
			_dmabridgectl_offer_names id "$cur" ""
			_dmabridgectl_offer_names unique_id "$cur" ""
			__ltrim_colon_completions "$cur"
			return
		fi
		# key=value: where = breaks words, the value alone is completed.
		local key=${cur%%=*} value=${cur#*=} pre=""
		[[ $COMP_WORDBREAKS == *=* ]] || pre="$key="
		if [[ $cur != *=* ]]; then
			COMPREPLY=($(compgen -W 'screen= x= y= z= visible= width= height=' -- "$cur"))
			compopt -o nospace
		elif [[ $key == screen ]]; then
			_dmabridgectl_offer_names name "$pre$value" "$pre"
		elif [[ $key == visible ]]; then
			COMPREPLY=($(compgen -P "$pre" -W 'yes no' -- "$value"))
		fi
		;;
	esac
}
complete -F _dmabridgectl dmabridgectl

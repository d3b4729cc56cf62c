# shellcheck shell=bash
# The hand-written part of the bash completion for imss-renew(1): the values
# of options (files, directories, --type, the secret sources) and the
# completion function.  The lists of commands and options come from the
# tool's option tables (`imss-renew __complete`, run at build time: see
# completion/CMakeLists.txt), so that they never drift from the parser.

# Files (or directories, with -d) matching the current word.
_imss_renew_files()
{
	local cur=$1 dir=${2-}
	compopt -o filenames 2>/dev/null
	if [[ -n $dir ]]; then
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
	elif declare -F _filedir >/dev/null; then
		_filedir
	else
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	fi
}

_imss_renew()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev='' cmd='' i
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	# The command: the first word that is neither an option nor the
	# argument of --module.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--module) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done

	# The argument of the option before.
	case $prev in
	--module | --cert | --credential | --key-file | --in | --out | --ca | --subject-from)
		# --cert of export and --subject-from may also be pkcs11: URIs.
		_imss_renew_files "$cur"
		return ;;
	--state-dir | --out-dir)
		_imss_renew_files "$cur" -d
		return ;;
	--type)
		mapfile -t COMPREPLY < <(compgen -W \
			'rsa:2048 rsa:3072 rsa:4096 ec:prime256v1 ec:secp384r1' -- "$cur")
		return ;;
	--pin-source | --password-source | --idse-password-source)
		case $cur in
		file:*)
			local f
			compopt -o filenames 2>/dev/null
			while IFS= read -r f; do
				COMPREPLY+=("file:$f")
			done < <(compgen -f -- "${cur#file:}")
			;;
		*)
			compopt -o nospace 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -W 'tty file: fd: env:' -- "$cur")
			[[ ${#COMPREPLY[@]} == 1 && ${COMPREPLY[0]} == tty ]] && compopt +o nospace 2>/dev/null
			;;
		esac
		return ;;
	--token | --key | --current | --label | --subject | --days | --server | --user | \
	--email | --timeout | --serial | --registro-patronal)
		return ;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_imss_renew_options)" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_imss_renew_commands)" -- "$cur")
		fi
		return
	fi
	[[ $cur == -* ]] &&
		mapfile -t COMPREPLY < <(compgen -W "$(_imss_renew_options "$cmd")" -- "$cur")
	return 0
}

complete -F _imss_renew imss-renew

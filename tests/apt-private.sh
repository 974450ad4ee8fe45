# SPDX-License-Identifier: GPL-2.0-or-later
#
# apt through a private configuration, for the test harnesses that need
# Debian's arm64 packages (tests/xen/fetch, tests/debian-dtbs/fetch).
#
# apt does the work with its own state, cache, sources list and an empty
# dpkg status, all passed as -o options, so the host's apt setup is read,
# never changed.  The mirror is whatever the host's apt already uses for
# Debian, asked from apt at run time, so no host name is written into the
# repository.
#
# Source this file, then call
#     apt_private_init DIR SUITE [deb-src]
# which fills the array APT_OPTS and writes DIR/sources.list (main of SUITE,
# SUITE-updates and SUITE-security, arm64 only; with deb-src, the source
# packages of the same instead, for apt-get source), and
#     apt_private_update DIR
# which fetches the lists.  Both return 77 with the reason on stderr when
# this host cannot do it (no apt, no Debian mirror configured, no keyring,
# no network); the caller decides whether that is a skip.

apt_private_init() {
        local dir=$1 suite=$2 kind=${3:-deb} host_codename targets mirror security keyring opts

        if ! command -v apt-get >/dev/null; then
                echo "no apt-get: this needs a Debian host" >&2
                return 77
        fi
        mkdir -p "$dir/state/lists/partial" "$dir/cache/archives/partial" \
                "$dir/etc/sources.list.d" "$dir/etc/preferences.d"
        : >"$dir/status"
        APT_OPTS=(
                -o APT::Architecture=arm64
                -o APT::Architectures::=arm64
                -o Dir::State="$dir/state"
                -o Dir::State::status="$dir/status"
                -o Dir::Cache="$dir/cache"
                -o Dir::Etc::SourceList="$dir/sources.list"
                -o Dir::Etc::SourceParts="$dir/etc/sources.list.d"
                -o Dir::Etc::Preferences="$dir/etc/preferences"
                -o Dir::Etc::PreferencesParts="$dir/etc/preferences.d"
                -o APT::Sandbox::User=root
                -o Acquire::Languages=none
                -q
        )

        # The host's Debian mirror: the repository apt itself lists for the
        # host's release, and its security archive.  indextargets reports
        # what the host's configured sources resolve to, whatever file
        # format they are written in.
        host_codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
        targets=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 2>/dev/null | sort -u)
        mirror=$(awk -v r="$host_codename" '$2 == r && $3 == "main" { print $1; exit }' <<<"$targets")
        security=$(awk -v r="$host_codename-security" '$2 == r && $3 == "main" { print $1; exit }' <<<"$targets")
        if [ -z "$mirror" ]; then
                echo "cannot find the host's Debian mirror in apt's configuration" \
                     "(apt-get indextargets has no '$host_codename main')" >&2
                return 77
        fi
        keyring=/usr/share/keyrings/debian-archive-keyring.gpg
        if [ ! -r "$keyring" ]; then
                echo "no $keyring (package debian-archive-keyring)" >&2
                return 77
        fi
        case "$kind" in
        deb) opts="arch=arm64 signed-by=$keyring" ;;
        deb-src) opts="signed-by=$keyring" ;;
        *) echo "apt_private_init: '$kind' is neither deb nor deb-src" >&2; return 2 ;;
        esac
        {
                echo "$kind [$opts] $mirror $suite main"
                echo "$kind [$opts] $mirror $suite-updates main"
                if [ -n "$security" ]; then
                        echo "$kind [$opts] $security $suite-security main"
                fi
        } >"$dir/sources.list"
        APT_MIRROR=$mirror
}

apt_private_update() {
        local dir=$1

        if ! apt-get "${APT_OPTS[@]}" update >"$dir/update.log" 2>&1; then
                tail -5 "$dir/update.log" >&2
                echo "apt-get update of the private arm64 lists in $dir failed" >&2
                return 77
        fi
}

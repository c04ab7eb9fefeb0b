#!/bin/sh
# Adds this unpacked ATC Desktop folder to the desktop's application menu, for the current
# user only (no root): the entry goes to $XDG_DATA_HOME/applications with Exec pointing
# here, the icons to the hicolor theme. Run it again after moving the folder.
#
#   ./install-desktop-entry.sh            # install or update
#   ./install-desktop-entry.sh --remove   # take the entry and icons out again
set -eu

here=$(cd "$(dirname "$0")" && pwd -P)
data=${XDG_DATA_HOME:-$HOME/.local/share}
entry=$data/applications/atc-desktop.desktop
sizes="16 24 32 48 64 128 256 512"

refresh_caches() {
    # Optional tools: menus pick the change up without them, only later.
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data/applications" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
}

if [ "${1:-}" = "--remove" ]; then
    rm -f "$entry" "$data/icons/hicolor/scalable/apps/atc-desktop.svg"
    for s in $sizes; do rm -f "$data/icons/hicolor/${s}x${s}/apps/atc-desktop.png"; done
    refresh_caches
    echo "removed $entry"
    exit 0
fi

case $here in
    # The desktop-entry spec would need these escaped inside Exec; refuse rather than guess.
    *[\"\`\$\\%]*) echo "error: the folder path $here contains one of \" \` \$ \\ %; move it elsewhere" >&2; exit 2 ;;
esac
if [ ! -x "$here/ATC-Desktop" ]; then
    echo "error: $here/ATC-Desktop not found: run this script from the unpacked ATC-Desktop folder" >&2
    exit 2
fi

mkdir -p "$data/applications" "$data/icons/hicolor/scalable/apps"
for s in $sizes; do
    if [ -f "$here/icons/atc-desktop-$s.png" ]; then
        mkdir -p "$data/icons/hicolor/${s}x${s}/apps"
        cp "$here/icons/atc-desktop-$s.png" "$data/icons/hicolor/${s}x${s}/apps/atc-desktop.png"
    fi
done
cp "$here/icons/atc-desktop.svg" "$data/icons/hicolor/scalable/apps/atc-desktop.svg"
sed -e "s|^Exec=.*|Exec=\"$here/ATC-Desktop\"|" -e "s|^TryExec=.*|TryExec=$here/ATC-Desktop|" \
    "$here/atc-desktop.desktop" > "$entry.part"
chmod 644 "$entry.part"
mv "$entry.part" "$entry"
refresh_caches
echo "installed $entry (runs $here/ATC-Desktop)"

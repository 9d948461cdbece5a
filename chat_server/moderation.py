"""Moderation: operators, and what they may do to people and rooms.

Plain code, no sockets. The directory hands it the operator commands and asks it, before
anyone speaks in a room, whether they may (`may_speak`), and before anyone joins or
connects, whether they are banned. Every action is a room event the room sees and its
history keeps (a NOTICE, or a PART that says who kicked or banned and why), or, where no
room is concerned, an INFO to the operator.

The rules, in the order they are checked when someone speaks in a room: operators may
always speak; a muted person may not (until the mute ends); in a read-only room only
operators may; in a slow room each person may say one line per N seconds. Nothing is
ever dropped silently: each refusal is an ERROR with a hint.

Bans are kept in the history store, so they survive a restart. A ban names a nickname
(kept out at /nick) or an address (kept out at connect). Banning a person bans both,
except that an operator never bans their own address (on a one-machine demo, or behind
a shared address, that would lock the operator out with them).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from chat_server.history import History
from chat_server.outgoing import Member
from chat_server.rooms import Room
from chat_server.store import Ban
from protocol import (
    BanTarget, Command, ErrorCode, Info, Kick, ListBans, Mute, Notice, Oper, PartReason,
    SetOperator, SetReadOnly, SetSlow, Unban, Unmute, nick_key,
)

if TYPE_CHECKING:
    from chat_server.directory import Directory

log = logging.getLogger(__name__)

OPER_TRIES = 3  # wrong /oper tokens a connection may send; the next closes it
FAILED_TRY_PAUSE = 1.0  # seconds a connection is not read after a wrong token, doubling


class Moderation:
    """Operators, mutes, room modes and bans, for one server."""

    def __init__(self, directory: Directory, oper_token: str, history: History,
                 clock_ms: Callable[[], int]) -> None:
        self._directory = directory
        self._oper_token = oper_token
        self._history = history
        self._clock_ms = clock_ms
        self.operators: set[Member] = set()
        self._muted_until: dict[Member, float | None] = {}  # None: until /unmute
        self._oper_failures: dict[Member, int] = {}
        self._bans: dict[str, Ban] = {ban.target: ban for ban in history.bans()}

    def handlers(self) -> dict[type, Callable[[Member, Command, Room | None], None]]:
        """The directory's handler table entries for the operator commands."""
        return {
            Oper: self._oper, SetOperator: self._set_operator, Kick: self._kick,  # type: ignore[dict-item]
            BanTarget: self._ban, Unban: self._unban, ListBans: self._list_bans,  # type: ignore[dict-item]
            Mute: self._mute, Unmute: self._unmute, SetReadOnly: self._read_only,  # type: ignore[dict-item]
            SetSlow: self._slow,  # type: ignore[dict-item]
        }

    def forget(self, member: Member) -> None:
        """`member` has left the server: it holds no rights and no mute any more."""
        self._set_rights(member, False)
        self._muted_until.pop(member, None)
        self._oper_failures.pop(member, None)

    def shown_nick(self, member: Member) -> str:
        """The nick as USERS shows it: `@alice` for an operator."""
        return f"@{member.nick}" if member in self.operators else member.nick  # type: ignore[return-value]

    # Checks the directory makes

    def may_speak(self, member: Member, room: Room) -> bool:
        """True if `member` may say something in `room` now; else an ERROR says why."""
        if member in self.operators:
            return True
        return (self._not_muted(member) and self._not_read_only(member, room)
                and self._not_too_soon(member, room))

    def lets_anyone_speak(self, room: Room) -> bool:
        """True when no rule holds anyone back in `room`: nobody is muted, and the room is
        neither read-only nor slow (then `may_speak` is True for every member)."""
        return not self._muted_until and not room.read_only and not room.slow_seconds

    def banned_address(self, host: str) -> Ban | None:
        """The ban in force on `host`, if any."""
        if not self._bans:  # asked for every connection: no parsing of its address for nothing
            return None
        return self._ban_in_force(_address_key(host))

    def banned_nick(self, nick: str) -> Ban | None:
        """The ban in force on `nick`, if any."""
        return self._ban_in_force(nick_key(nick))

    # Becoming an operator

    def _oper(self, member: Member, command: Oper, room: Room | None) -> None:
        if hmac.compare_digest(command.token.encode(), self._oper_token.encode()):
            self._oper_failures.pop(member, None)
            self._make_operator(member, by=None)
            return
        failures = self._oper_failures.get(member, 0) + 1
        self._oper_failures[member] = failures
        self._directory.error(member, ErrorCode.BAD_PASSWORD, "that is not the operator "
                              f"token ({OPER_TRIES - failures} tries left)")
        member.slow_down(FAILED_TRY_PAUSE * 2 ** (failures - 1))
        if failures >= OPER_TRIES:
            self._directory.send_away(member, PartReason.BAD_PASSWORD, PartReason.BAD_PASSWORD)

    def _set_operator(self, member: Member, command: SetOperator, room: Room | None) -> None:
        target = self._operator_acting_on(member, command.nick)
        if target is None:
            return
        if command.on:
            self._make_operator(target, by=member)
        elif target in self.operators:
            self._set_rights(target, False)
            self._tell_rooms_of(target, member, f"took {target.nick}'s operator rights")
        else:
            self._directory.error(member, ErrorCode.BAD_ARGS, f"{target.nick} is not an operator")

    def _make_operator(self, member: Member, by: Member | None) -> None:
        if member in self.operators:
            # Told to whoever asked: `/op alice` must not send alice a line she never asked for.
            if by is None:
                self._directory.reply(member, Info("you are an operator already"))
            else:
                self._directory.reply(by, Info(f"{member.nick} is an operator already"))
            return
        self._set_rights(member, True)
        self._directory.reply(member, Info("you are now an operator: /help lists what you may do"))
        if by is None:
            if member.rooms:  # in no room (before /nick), the INFO above says it all
                self._tell_rooms_of(member, member, "is now an operator")
        else:
            self._tell_rooms_of(member, by, f"made {member.nick} an operator")

    def _set_rights(self, member: Member, operator: bool) -> None:
        """Make `member` an operator or not: USERS of its rooms shows it (`@alice`)."""
        if (member in self.operators) == operator:
            return
        if operator:
            self.operators.add(member)
        else:
            self.operators.discard(member)
        for room in member.rooms:
            room.forget_rosters()

    # Acting on people

    def _kick(self, member: Member, command: Kick, room: Room | None) -> None:
        if not self._is_operator(member) or not self._directory.require_room(member, room):
            return
        target = self._someone_else(member, command.nick, room)
        if target is None:
            return
        reason = f"kicked by {member.nick}: {command.reason or 'no reason given'}"
        if target.connection.version < 2:  # a version 1 program has no room to go back to
            self._directory.send_away(target, reason, "kicked")
        else:
            self._directory.leave_room(target, room, reason, leaver_hears=True)  # type: ignore[arg-type]

    def _ban(self, member: Member, command: BanTarget, room: Room | None) -> None:
        if not self._is_operator(member):
            return
        until = self._until(command.minutes)
        reason = command.reason or "no reason given"
        if _is_address(command.target):
            self._ban_address(member, command.target, until, reason, room)
            return
        target = self._someone_else(member, command.target, None)
        if target is None:
            return
        self._keep(Ban(nick_key(target.nick), "nick", until, reason, member.nick))  # type: ignore[arg-type]
        if target.host != member.host:
            self._keep(Ban(_address_key(target.host), "address", until, reason, member.nick))  # type: ignore[arg-type]
        self._send_away_banned(member, reason, [target])
        self._directory.reply(member, Info(f"banned {target.nick} {_for(command.minutes)}"))

    def _ban_address(self, member: Member, address: str, until: int | None, reason: str,
                     room: Room | None) -> None:
        if _address_key(address) == _address_key(member.host):
            self._directory.error(member, ErrorCode.BAD_ARGS, "that is your own address")
            return
        self._keep(Ban(_address_key(address), "address", until, reason, member.nick))  # type: ignore[arg-type]
        there = [someone for someone in self._directory.members()
                 if _address_key(someone.host) == _address_key(address)
                 and someone not in self.operators]
        self._send_away_banned(member, reason, there)
        minutes = None if until is None else (until - self._clock_ms()) / 60_000
        self._directory.reply(member, Info(f"banned {address} {_for(minutes)}"))

    def _send_away_banned(self, operator: Member, reason: str, people: list[Member]) -> None:
        why = f"banned by {operator.nick}: {reason}"
        for person in people:
            # The rooms see the PART; the person, who is taken out of them first, is told
            # here, as a connection refused at connect is (ERROR BANNED, then BYE banned).
            self._directory.error(person, ErrorCode.BANNED, f"you are {why}")
            self._directory.send_away(person, why, PartReason.BANNED)

    def _unban(self, member: Member, command: Unban, room: Room | None) -> None:
        if not self._is_operator(member):
            return
        key = _address_key(command.target) if _is_address(command.target) \
            else nick_key(command.target)
        if self._bans.pop(key, None) is None:
            self._directory.error(member, ErrorCode.BAD_ARGS, f"there is no ban on {command.target}")
            return
        self._history.remove_ban(key)
        self._directory.reply(member, Info(f"lifted the ban on {command.target}"))

    def _list_bans(self, member: Member, command: ListBans, room: Room | None) -> None:
        if not self._is_operator(member):
            return
        bans = [ban for ban in list(self._bans.values()) if self._ban_in_force(ban.target)]
        self._directory.reply(member, Info(f"Bans in force: {len(bans)}"))
        for ban in bans:
            until = "until lifted" if ban.until_ms is None else \
                time.strftime("until %d %b %H:%M", time.localtime(ban.until_ms / 1000))
            self._directory.reply(member, Info(
                f"  {ban.target} ({ban.kind}) {until}, by {ban.by}: {ban.reason}"))

    def _mute(self, member: Member, command: Mute, room: Room | None) -> None:
        if not self._is_operator(member):
            return
        target = self._someone_else(member, command.nick, None)
        if target is not None:
            self._muted_until[target] = self._until(command.minutes)
            self._tell_rooms_of(target, member, f"muted {target.nick} {_for(command.minutes)}")

    def _unmute(self, member: Member, command: Unmute, room: Room | None) -> None:
        if not self._is_operator(member):
            return
        target = self._directory.member_called(command.nick)
        if target is None or target not in self._muted_until:
            self._directory.error(member, ErrorCode.BAD_ARGS, f"{command.nick} is not muted")
            return
        del self._muted_until[target]
        self._tell_rooms_of(target, member, f"unmuted {target.nick}")

    # Acting on rooms

    def _read_only(self, member: Member, command: SetReadOnly, room: Room | None) -> None:
        if self._is_operator(member) and self._directory.require_room(member, room):
            room.read_only = command.on  # type: ignore[union-attr]
            text = ("made the room read-only: only operators may speak" if command.on
                    else "opened the room: everyone may speak")
            self._directory.to_room(room, Notice(member.nick, text))  # type: ignore[arg-type]

    def _slow(self, member: Member, command: SetSlow, room: Room | None) -> None:
        if self._is_operator(member) and self._directory.require_room(member, room):
            room.slow_seconds = command.seconds  # type: ignore[union-attr]
            text = (f"set slow mode: one line every {command.seconds:g} seconds each"
                    if command.seconds else "turned slow mode off")
            self._directory.to_room(room, Notice(member.nick, text))  # type: ignore[arg-type]

    # Speaking

    def _not_muted(self, member: Member) -> bool:
        if member not in self._muted_until:
            return True
        until = self._muted_until[member]
        if until is not None and until <= self._clock_ms():
            del self._muted_until[member]
            return True
        how_long = ("until an operator unmutes you" if until is None
                    else f"for {_minutes_left(until - self._clock_ms())}")
        self._directory.error(member, ErrorCode.MUTED, f"you are muted {how_long}; "
                              "you can still read, and /msg an operator")
        return False

    def _not_read_only(self, member: Member, room: Room) -> bool:
        if not room.read_only:
            return True
        self._directory.error(member, ErrorCode.READ_ONLY,
                              f"{room.name} is read-only: only operators may speak there")
        return False

    def _not_too_soon(self, member: Member, room: Room) -> bool:
        if not room.slow_seconds:
            return True
        now = self._clock_ms()
        last = room.last_said.get(member)
        wait_ms = 0 if last is None else last + room.slow_seconds * 1000 - now
        if wait_ms > 0:
            # Rounded up: "wait 0 more seconds" would invite a line that is refused again.
            seconds = math.ceil(wait_ms / 1000)
            self._directory.error(member, ErrorCode.SLOW_MODE, f"{room.name} is in slow mode: wait "
                                  f"{seconds} more second{'' if seconds == 1 else 's'}, "
                                  "then say it again")
            return False
        room.last_said[member] = now
        return True

    # Helpers

    def _is_operator(self, member: Member) -> bool:
        if member in self.operators:
            # /oper may come before /nick, but acting needs a name: the NOTICE and the
            # stored ban say who did it (a ban with none could not be stored at all).
            return self._directory.require_joined(member)
        self._directory.error(member, ErrorCode.NOT_OPERATOR,
                              "only operators may do that (/oper TOKEN)")
        return False

    def _operator_acting_on(self, member: Member, nick: str) -> Member | None:
        if not self._is_operator(member):
            return None
        target = self._directory.member_called(nick)
        if target is None:
            self._directory.error(member, ErrorCode.NO_SUCH_NICK, f"nobody here is called {nick}")
        return target

    def _someone_else(self, member: Member, nick: str, room: Room | None) -> Member | None:
        """The person an operator acts on: present (in `room`, if given), not themselves,
        not an operator; or None after saying why not."""
        target = self._operator_acting_on(member, nick)
        if target is None:
            return None
        if room is not None and target not in room:
            self._directory.error(member, ErrorCode.NO_SUCH_NICK, f"{target.nick} is not in {room.name}")
        elif target is member:
            self._directory.error(member, ErrorCode.BAD_ARGS, "you cannot do that to yourself")
        elif target in self.operators:
            self._directory.error(member, ErrorCode.BAD_ARGS,
                                  f"{target.nick} is an operator: /deop them first")
        else:
            return target
        return None

    def _tell_rooms_of(self, target: Member, operator: Member, text: str) -> None:
        """A NOTICE in every room `target` is in (or an INFO to the operator if none)."""
        for room in target.rooms:
            self._directory.to_room(room, Notice(operator.nick, text))  # type: ignore[arg-type]
        if not target.rooms:
            self._directory.reply(operator, Info(f"{operator.nick} {text}"))

    def _until(self, minutes: float | None) -> int | None:
        return None if minutes is None else self._clock_ms() + int(minutes * 60_000)

    def _keep(self, ban: Ban) -> None:
        self._bans[ban.target] = ban
        self._history.add_ban(ban)

    def _ban_in_force(self, key: str) -> Ban | None:
        ban = self._bans.get(key)
        if ban is not None and ban.until_ms is not None and ban.until_ms <= self._clock_ms():
            del self._bans[key]  # expired: forget it here and in the store
            self._history.remove_ban(key)
            return None
        return ban


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _address_key(host: str) -> str:
    """One form per address: `::ffff:10.0.0.5` (IPv4 on an IPv6 socket) is `10.0.0.5`."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def _for(minutes: float | None) -> str:
    return "until lifted" if minutes is None else f"for {_minutes_left(minutes * 60_000)}"


def _minutes_left(ms: float) -> str:
    minutes = max(ms, 0) / 60_000
    if minutes < 1:
        seconds = round(max(ms, 0) / 1000)
        return "1 second" if seconds == 1 else f"{seconds} seconds"
    return "1 minute" if round(minutes) == 1 else f"{minutes:.0f} minutes"

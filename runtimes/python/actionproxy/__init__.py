"""Squall's Python action proxy: OpenWhisk's action runtime protocol on port 8080.

It runs inside user containers on a bare Debian ``python3``: standard library only, nothing from Squall.
``server`` speaks HTTP, ``runner`` owns the action's child process, ``launcher`` is that child,
``source`` turns the /init code into files, ``protocol`` holds what both sides of the pipe agree on.
"""

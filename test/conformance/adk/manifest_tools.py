"""Algorithmia's own model-manifest tools, for adk-manifest.test.ts (the client reads ALGORITHMIA_API and
ALGORITHMIA_API_KEY):

    freeze DIR        `algo freeze` in DIR (the CLI's freezeAlgo): model_manifest.json -> model_manifest.json.freeze
    load MANIFEST     the ADK's ModelData on MANIFEST: prints {"<name>": "<md5>"} of the files it loaded

A refusal is the tool's own exception (a traceback, exit status 1).
"""
import json
import os
import sys

import Algorithmia
from Algorithmia.CLI import CLI
from adk.modeldata import ModelData


def main(command, path):
    client = Algorithmia.client()
    if command == "freeze":
        os.chdir(path)
        CLI().freezeAlgo(client)
    elif command == "load":
        models = ModelData(client, path)
        models.initialize()
        print(json.dumps({name: data.md5_checksum for name, data in models.models.items()}))
    else:
        sys.exit("unknown command %r" % command)


if __name__ == "__main__":
    main(*sys.argv[1:])

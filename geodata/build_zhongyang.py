#!/usr/bin/env python
"""Build the bundled Zhongyang County (中阳县, 141129) dataset for gridgov.

    python geodata/build_zhongyang.py [--out DIR]      (default: geodata/zhongyang)

A thin entry point: the generator is the package geodata/generate/ (one module per layer; see its
docstring and geodata/README.md). `python -m generate [--out DIR]` run in geodata/ does the same.
"""

if __name__ == "__main__":
    from generate import main   # geodata/, this file's folder, is on sys.path when run as a script

    main()

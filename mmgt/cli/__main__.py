from mmgt.cli.main import main

if __name__ == "__main__":  # spawned workers import this module again
    main()
